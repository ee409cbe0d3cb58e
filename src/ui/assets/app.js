// mlx ui: a small single-page app over mlx's JSON API. The page state lives in the URL hash, so every view
// (a filtered runs table, a comparison) can be bookmarked and shared. Charts use the vendored uPlot
// (/vendor/uPlot.iife.min.js, MIT); the parallel-coordinates plot (parallel.js) is SVG; the runs list's chart
// view is charts.js. No network but /api/.
"use strict";

const app = document.getElementById("app");
// 20 distinct colours (Tableau 20 reordered so neighbours differ): one per run, everywhere on a page.
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  "#393b79", "#e6550d", "#637939", "#ad494a", "#7b4173", "#3182bd", "#fd8d3c", "#31a354", "#843c39", "#a55194"];
function color(i) { return COLORS[i % COLORS.length]; }

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
// The one number formatter (tables, run page, compare, chart axes): 4 significant digits, but never fewer
// than the integer digits (2500.2 → 2500.2, 31234.5 → 31234.5), and no exponent below 1e6.
function fmt(v) {
  if (typeof v !== "number") return v === undefined || v === null ? "" : String(v);
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e6) return v.toPrecision(4).replace(/\.?0+e/, "e").replace("e+", "e");
  if (a < 1e-4) return v.toPrecision(3).replace(/\.?0+e/, "e");
  if (Number.isInteger(v)) return String(v);
  const decimals = a >= 1000 ? 1 : a >= 1 ? 4 - (Math.floor(Math.log10(a)) + 1) : 3 - Math.floor(Math.log10(a));
  let s = v.toFixed(Math.min(20, Math.max(0, decimals)));
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return s === "-0" ? "0" : s;
}
// Full precision for the hover title.
function full(v) { return v === undefined || v === null ? "" : String(v); }
function numCell(v, extra) { return `<td class="num${extra ? " " + extra : ""}" title="${esc(full(v))}">${esc(fmt(v))}</td>`; }
function textCell(v, cls) { return `<td class="${cls || "cut"}" title="${esc(v)}">${esc(v)}</td>`; }
function when(ms) {
  if (!ms) return "";
  const d = new Date(ms), p = n => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} UTC${sign}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}
function dur(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return ms + "ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + "s";
  return (ms / 60000).toFixed(1) + "m";
}
async function api(path, opts) {
  const r = await fetch(path, opts);
  let body;
  try { body = await r.json(); } catch (e) { body = {error: "HTTP " + r.status}; }
  if (!r.ok) throw Object.assign(new Error(body.error || ("HTTP " + r.status)), {status: r.status});
  return body;
}
function parseHash() {
  const h = location.hash.replace(/^#/, "") || "/";
  const [path, qs] = h.split("?");
  return {parts: path.split("/").filter(Boolean).map(decodeURIComponent), q: new URLSearchParams(qs || "")};
}
function go(path, q) {
  const s = q && [...q.keys()].length ? "?" + q.toString() : "";
  location.hash = "#" + path + s;
}
function setStatus(t) { document.getElementById("status").textContent = t; }
function num(v) { return typeof v === "number" ? v : (v === "NaN" || v === "Infinity" || v === "-Infinity" ? Number(v) : NaN); }
function wrap(table) { return `<div class="tablewrap">${table}</div>`; }
function swatch(i) { return `<i class="swatch" style="background:${color(i)}"></i>`; }

// ---- charts (uPlot) ----
// Every chart on the page, destroyed when the view changes.
let charts = [];
function destroyCharts() { charts.forEach(c => c.destroy()); charts = []; }
function chartWidth(el) { return Math.max(240, Math.floor(el.getBoundingClientRect().width) - 4); }
// Axis text and grid lines in the page's colours (light or dark, as the CSS variables say).
function axisInk() {
  const css = getComputedStyle(document.documentElement), v = k => css.getPropertyValue(k).trim();
  return {stroke: v("--fg") || "#1d2433", grid: {stroke: v("--grid") || "#eceff3"}, ticks: {stroke: v("--grid") || "#eceff3"}};
}
function axisValues(u, splits) { return splits.map(v => fmt(v)); }
// A y axis as wide as its longest label, so labels are never clipped.
function axisSize(u, values) { return values ? Math.max(40, 14 + 7 * Math.max(...values.map(v => String(v ?? "").length))) : 40; }

// Steps are whole numbers: ticks only at whole increments.
const STEP_INCRS = [1, 2, 5].flatMap(m => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8].map(p => m * p)).sort((a, b) => a - b);

// Exponential moving average (TensorBoard's smoothing), nulls skipped.
function smooth(ys, w) {
  if (!w) return ys;
  let last = null;
  return ys.map(y => (y === null ? null : (last = last === null ? y : last * w + y * (1 - w))));
}

// A line chart of histories. series: [{name, color, hist: [{step, value, timestamp}]}]. Above it: step or
// wall time on x, smoothing, log scale.
function historyChart(el, series) {
  el.innerHTML = `<div class="chart-controls"><label>x <select class="x-axis"><option value="step">step</option><option value="time">time</option></select></label>
    <label>smoothing <select class="smoothing"><option value="0">none</option><option value="0.6">0.6</option><option value="0.9">0.9</option><option value="0.97">0.97</option></select></label>
    <label class="log"><input type="checkbox" class="log-scale"> log scale</label></div><div class="plot"></div>`;
  const box = el.querySelector(".plot"), logBox = el.querySelector(".log-scale"), xSel = el.querySelector(".x-axis"), smSel = el.querySelector(".smoothing");
  let chart = null;
  const draw = () => {
    if (chart) { charts = charts.filter(c => c !== chart); chart.destroy(); chart = null; }
    const time = xSel.value === "time";
    const xOf = p => (time ? p.timestamp / 1000 : p.step);
    const xs = [...new Set(series.flatMap(s => s.hist.map(xOf)).filter(isFinite))].sort((a, b) => a - b);
    if (!xs.length) { box.innerHTML = '<p class="muted">no finite values to draw</p>'; return; }
    const at = new Map(xs.map((x, i) => [x, i]));
    const raw = series.map(s => {
      const ys = new Array(xs.length).fill(null);
      s.hist.forEach(p => { const y = num(p.value); if (at.has(xOf(p)) && isFinite(y)) ys[at.get(xOf(p))] = y; });
      return ys;
    });
    const positive = raw.every(ys => ys.every(y => y === null || y > 0));
    logBox.disabled = !positive;
    logBox.title = positive ? "" : "values ≤ 0";
    if (!positive) logBox.checked = false;
    const data = [xs, ...raw.map(ys => smooth(ys, Number(smSel.value)))];
    const many = xs.length > 60, label = time ? "time" : "step";
    chart = new uPlot({
      width: chartWidth(el), height: 220,
      scales: {x: {time}, y: {distr: logBox.checked ? 3 : 1}},
      axes: [{label, values: time ? undefined : axisValues, incrs: time ? undefined : STEP_INCRS, ...axisInk()}, {values: axisValues, size: axisSize, ...axisInk()}],
      series: [{label, value: time ? undefined : (u, v) => fmt(v)}, ...series.map(s => ({label: s.name, stroke: s.color, width: 2, spanGaps: true,
        points: {show: !many, size: 6, fill: s.color}, value: (u, v) => v === null ? "–" : fmt(v)}))],
      cursor: {drag: {x: true, y: false}},
    }, data, box);
    charts.push(chart);
  };
  [logBox, xSel, smSel].forEach(c => { c.onchange = draw; });
  draw();
}

// One bar per run: one series per run, each with a value only at its own x, so every bar has its run's colour.
function barChart(el, runs, values) {
  const n = runs.length, xs = runs.map((_, i) => i);
  const data = [xs, ...runs.map((r, i) => xs.map(j => (j === i && isFinite(values[i]) ? values[i] : null)))];
  const lo = Math.min(0, ...values.filter(isFinite)), hi = Math.max(0, ...values.filter(isFinite));
  el.innerHTML = "";
  // Each run's name cut to its bar's room (none when the bars are too narrow; the hover names them).
  const room = Math.floor(chartWidth(el) / Math.max(1, n) / 7), cut = s => (room < 4 ? "" : s.length > room ? s.slice(0, room - 1) + "…" : s);
  const chart = new uPlot({
    width: chartWidth(el), height: 220,
    scales: {x: {time: false, range: [-0.6, n - 0.4]}, y: {range: [lo, hi === lo ? lo + 1 : hi + (hi - lo) * 0.05]}},
    axes: [{values: (u, splits) => splits.map(v => Number.isInteger(v) && runs[v] ? cut(runs[v].name) : ""), splits: () => xs, grid: {show: false}, stroke: axisInk().stroke},
      {values: axisValues, size: axisSize, ...axisInk()}],
    series: [{label: "run", value: (u, v) => (runs[v] ? runs[v].name : "")}, ...runs.map(r => ({label: r.name, stroke: r.color, fill: r.color,
      paths: uPlot.paths.bars({size: [0.6, 80], align: 0}), points: {show: false}, value: (u, v) => v === null ? "–" : fmt(v)}))],
    legend: {show: false},
    cursor: {drag: {x: false, y: false}},
  }, data, el);
  charts.push(chart);
}

// Metric vs param: one series per run (a single round point each), numeric or categorical x.
function scatterChart(el, points, xLabel, yLabel) {
  const good = points.filter(p => isFinite(p.y) && p.x !== "");
  if (!good.length) { el.innerHTML = '<p class="muted">no values to draw</p>'; return; }
  const numeric = good.every(p => !isNaN(Number(p.x)));
  const cats = numeric ? [] : [...new Set(good.map(p => p.x))].sort();
  const xv = p => numeric ? Number(p.x) : cats.indexOf(p.x);
  const xs = [...new Set(good.map(xv))].sort((a, b) => a - b), at = new Map(xs.map((x, i) => [x, i]));
  const data = [xs, ...good.map(p => { const ys = new Array(xs.length).fill(null); ys[at.get(xv(p))] = p.y; return ys; })];
  el.innerHTML = `<p class="muted">${esc(yLabel)} against params.${esc(xLabel)}</p><div class="plot"></div>`;
  const box = el.querySelector(".plot");
  const pad = numeric ? (xs[xs.length - 1] - xs[0] || 1) * 0.05 : 0.5;
  const chart = new uPlot({
    width: chartWidth(el), height: 240,
    scales: {x: {time: false, range: [xs[0] - pad, xs[xs.length - 1] + pad]}},
    axes: [{label: "params." + xLabel, values: numeric ? axisValues : (u, s) => s.map(v => Number.isInteger(v) && cats[v] !== undefined ? cats[v] : ""),
      splits: numeric ? undefined : () => cats.map((_, i) => i), ...axisInk()},
    {label: yLabel, values: axisValues, size: axisSize, ...axisInk()}],
    series: [{label: xLabel, value: (u, v) => numeric ? fmt(v) : (cats[v] ?? "")}, ...good.map(p => ({label: p.label, stroke: p.color, fill: p.color,
      paths: () => null, points: {show: true, size: 10, fill: p.color, stroke: p.color}, value: (u, v) => v === null ? "–" : fmt(v)}))],
  }, data, box);
  el.dataset.points = String(good.length);
  charts.push(chart);
}

// Links to the registered model versions a run produced.
function versionLinks(versions) {
  return (versions || []).map(v => ` <a class="badge version" href="#/models/${encodeURIComponent(v.name)}" title="registered model ${esc(v.name)} version ${esc(v.version)}${v.aliases.length ? " (" + esc(v.aliases.join(", ")) + ")" : ""}">${esc(v.name)} v${esc(v.version)}${v.aliases.map(a => ` <span class="alias">@${esc(a)}</span>`).join("")}</a>`).join("");
}

function legend(items) {
  return '<div class="legend">' + items.map(it => `<span data-color="${it.color}"><i class="swatch" style="background:${it.color}"></i>${esc(it.name)}</span>`).join("") + "</div>";
}

// ---- views ----
async function viewExperiments() {
  const exps = await api("/api/experiments");
  app.innerHTML = `<h1>Experiments</h1>` + (exps.length ? wrap(`<table id="experiments"><thead><tr><th>name</th><th>id</th><th>created</th><th>artifact location</th></tr></thead><tbody>` +
    exps.map(e => `<tr><td><a href="#/experiments/${encodeURIComponent(e.experiment_id)}">${esc(e.name)}</a></td><td>${esc(e.experiment_id)}</td><td>${when(e.creation_time)}</td>${textCell(e.artifact_location, "cut muted")}</tr>`).join("") + "</tbody></table>")
    : '<p class="muted">No experiments yet. <code>mlx train</code> or <code>mlx log start</code> makes one.</p>');
}

// The default columns: params whose values differ across the page's runs, and the metrics most runs have.
function defaultColumns(runs) {
  const pkeys = [...new Set(runs.flatMap(r => Object.keys(r.params)))].sort();
  // A param some runs lack (a sweep's parent, another estimator) varies only if the runs that have it differ.
  const varying = pkeys.filter(k => new Set(runs.filter(r => k in r.params).map(r => r.params[k])).size > 1);
  const counts = new Map();
  runs.forEach(r => Object.keys(r.metrics).forEach(k => counts.set(k, (counts.get(k) || 0) + 1)));
  const metrics = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 12).map(e => e[0]).sort();
  return metrics.map(k => "m:" + k).concat(varying.slice(0, 8).map(k => "p:" + k));
}

let columnsOpen = false;
const collapsed = new Set();

async function viewRuns(id, q) {
  const filter = q.get("filter") || "", order = q.get("order") || "", page = Math.max(0, parseInt(q.get("page") || "0", 10) || 0);
  const limit = 100;
  // With the state, time range and dataset picked (edit.js): the same runs as `mlx runs list`.
  const params = new URLSearchParams({filter: runsFilter(q), order_by: order, offset: String(page * limit), limit: String(limit), view: runsView(q)});
  let data, error = null, keys;
  try { data = await api(`/api/experiments/${encodeURIComponent(id)}/runs?` + params); keys = data; }
  catch (e) {
    if (e.status !== 400) throw e;
    error = e.message; data = null;
    // Keep the title and the column list: ask again without the filter, for the names only.
    try { keys = await api(`/api/experiments/${encodeURIComponent(id)}/runs?limit=1`); } catch (e2) { keys = null; }
  }
  const exp = keys ? keys.experiment : {name: id};
  const metricKeys = keys ? keys.metric_keys : [], paramKeys = keys ? keys.param_keys : [];
  const runs = data ? data.runs : [];
  const tagKeys = [...new Set(runs.flatMap(r => Object.keys(r.tags)))].filter(k => k !== "mlflow.parentRunId").sort();
  const chosen = q.get("cols") !== null ? q.get("cols").split(",").filter(Boolean) : defaultColumns(runs);
  const colour = new Map(runs.map((r, i) => [r.run_id, color(i)]));
  let html = `<h1>Runs of ${esc(exp.name)}</h1>
  <form class="toolbar" id="filter-form">
    <input type="text" id="filter" name="filter" placeholder="metrics.accuracy > 0.8 AND params.model = 'rf'" value="${esc(filter)}">
    <button class="primary" type="submit">Filter</button>
    <button type="button" id="clear">Clear</button>
    <button type="button" id="compare" disabled>Compare selected</button>
    <button type="button" id="view-toggle" data-view="${q.get("view") === "charts" ? "table" : "charts"}">${q.get("view") === "charts" ? "Table" : "Charts"}</button>
    <span class="muted" id="count">${data ? (data.total !== null ? `${data.total} runs` : `${data.offset + runs.length}+ runs`) : ""}</span>
  </form>`;
  if (error) {
    const col = /column (\d+)/.exec(error);
    const caret = col ? `\n${filter}\n${" ".repeat(Math.max(0, Number(col[1]) - 1))}^` : "";
    html += `<div class="error" id="filter-error">${esc(error + caret)}</div>`;
  }
  const box = (prefix, k, label) => `<label><input type="checkbox" data-col="${prefix}:${esc(k)}" ${chosen.includes(prefix + ":" + k) ? "checked" : ""}> ${esc(label)}</label>`;
  html += `<details class="columns" ${columnsOpen ? "open" : ""}><summary>Columns</summary><div><b>metrics</b> ` +
    metricKeys.map(k => box("m", k, k)).join("") + "</div><div><b>params</b> " +
    paramKeys.map(k => box("p", k, k)).join("") + "</div><div><b>tags</b> " + tagKeys.map(k => box("t", k, k)).join("") + `</div></details>`;
  if (data && q.get("view") === "charts") {
    html += `<div class="grid" id="run-charts">${runs.length ? "" : '<p class="muted">no runs</p>'}</div>`;
    app.innerHTML = html;
    await runCharts(document.getElementById("run-charts"), runs.map(r => Object.assign({name: r.run_name || r.run_id.slice(0, 8), color: colour.get(r.run_id)}, r)));
  } else if (data) {
    const [okey, odir] = order.split(/\s+/);
    const head = (label, key) => `<th class="sortable ${okey === key ? "sorted" + (odir === "ASC" ? " asc" : "") : ""}" data-key="${esc(key)}" title="${esc(label)}">${esc(label)}</th>`;
    html += `<div class="tablewrap"><table id="runs"><thead><tr>${head("name", "attributes.run_name")}${head("status", "attributes.status")}${head("start", "attributes.start_time")}<th>duration</th>` +
      chosen.map(c => c.startsWith("m:") ? head(c.slice(2), "metrics." + c.slice(2)) : c.startsWith("p:") ? head("params." + c.slice(2), "params." + c.slice(2)) : head("tags." + c.slice(2), "tags." + c.slice(2))).join("") + "</tr></thead><tbody>";
    // Sweeps: children listed under their parent when both are on this page.
    const onPage = new Set(runs.map(r => r.run_id));
    const parentOf = r => { const p = r.tags["mlflow.parentRunId"]; return p && onPage.has(p) && p !== r.run_id ? p : null; };
    const children = new Map();
    runs.forEach(r => { const p = parentOf(r); if (p) { if (!children.has(p)) children.set(p, []); children.get(p).push(r); } });
    const row = (r, kind, best) => {
      const kids = children.get(r.run_id) || [];
      const toggle = kids.length ? `<button type="button" class="toggle" data-parent="${esc(r.run_id)}" title="show or hide its ${kids.length} child runs">${collapsed.has(r.run_id) ? "▸" : "▾"} ${kids.length}</button> ` : "";
      const cls = kind === "child" ? `run child${best ? " best" : ""}${collapsed.has(parentOf(r)) ? " hidden" : ""}` : kids.length ? "run parent" : "run";
      return `<tr class="${cls}" data-run="${esc(r.run_id)}"${kind === "child" ? ` data-parent="${esc(parentOf(r))}"` : ""}><td class="name"><input type="checkbox" class="pick" value="${esc(r.run_id)}"> <i class="swatch" style="background:${colour.get(r.run_id)}"></i>${toggle}<a href="#/runs/${esc(r.run_id)}" title="${esc(r.run_name || r.run_id)}">${esc(r.run_name || r.run_id)}</a>${best ? ' <span class="badge best-mark" title="the sweep\'s best run (mlx.best_run_id)">★ best</span>' : ""}${versionLinks(data.model_versions[r.run_id])}</td><td>${esc(r.status)}</td><td>${when(r.start_time)}</td><td class="num">${dur(r.duration_ms)}</td>` +
        chosen.map(c => c.startsWith("m:") ? numCell(r.metrics[c.slice(2)]) : textCell(c.startsWith("p:") ? r.params[c.slice(2)] : r.tags[c.slice(2)])).join("") + "</tr>";
    };
    for (const r of runs) {
      if (parentOf(r)) continue;
      html += row(r, "top", false);
      for (const c of children.get(r.run_id) || []) html += row(c, "child", r.tags["mlx.best_run_id"] === c.run_id);
    }
    html += "</tbody></table></div>";
    // A tracking server's total is unknown until the last page: "page 3 of 4+".
    const pages = data.total !== null ? Math.ceil(data.total / limit) : page + 2;
    if (pages > 1) html += `<div class="pager"><button id="prev" ${page === 0 ? "disabled" : ""}>‹ Previous</button><span>page ${page + 1} of ${pages}${data.total !== null ? "" : "+"}</span><button id="next" ${data.more ? "" : "disabled"}>Next ›</button></div>`;
    if (runs.length > 1) html += parallelSection(runs, q, chosen);
    app.innerHTML = html;
  } else {
    app.innerHTML = html;
  }
  const nav = changes => {
    const nq = new URLSearchParams(q);
    for (const [k, v] of Object.entries(changes)) { if (v === null || v === "") nq.delete(k); else nq.set(k, v); }
    go(`/experiments/${encodeURIComponent(id)}`, nq);
  };
  document.getElementById("filter-form").onsubmit = e => { e.preventDefault(); nav({filter: document.getElementById("filter").value, page: null}); };
  document.getElementById("clear").onclick = () => nav({filter: null, page: null});
  app.querySelectorAll("th.sortable").forEach(th => th.onclick = () => {
    const key = th.dataset.key, [okey, odir] = order.split(/\s+/);
    nav({order: key + (okey === key && odir !== "ASC" ? " ASC" : " DESC"), page: null});
  });
  const details = app.querySelector("details.columns");
  details.ontoggle = () => { columnsOpen = details.open; };
  app.querySelectorAll("details.columns input").forEach(cb => cb.onchange = () => {
    const cols = [...app.querySelectorAll("details.columns input:checked")].map(c => c.dataset.col);
    nav({cols: cols.join(",")});
  });
  app.querySelectorAll("button.toggle").forEach(b => b.onclick = () => {
    const p = b.dataset.parent, hide = !collapsed.has(p);
    if (hide) collapsed.add(p); else collapsed.delete(p);
    app.querySelectorAll(`tr.child[data-parent="${CSS.escape(p)}"]`).forEach(tr => tr.classList.toggle("hidden", hide));
    b.textContent = (hide ? "▸ " : "▾ ") + b.textContent.replace(/^\S+\s/, "");
  });
  if (data && q.get("view") !== "charts") parallelWire(runs.map(r => Object.assign({color: colour.get(r.run_id)}, r)), q, chosen, nav);
  document.getElementById("view-toggle").onclick = e => nav({view: e.target.dataset.view === "charts" ? "charts" : null});
  const cmp = document.getElementById("compare");
  app.querySelectorAll("input.pick").forEach(cb => cb.onchange = () => {
    cmp.disabled = app.querySelectorAll("input.pick:checked").length < 2;
  });
  cmp.onclick = () => go("/compare", new URLSearchParams({runs: [...app.querySelectorAll("input.pick:checked")].map(c => c.value).join(",")}));
  const prev = document.getElementById("prev"), next = document.getElementById("next");
  if (prev) prev.onclick = () => nav({page: String(page - 1)});
  if (next) next.onclick = () => nav({page: String(page + 1)});
  runsFilters(id, q, data, keys, nav);
}

function kvTable(id, obj, numeric) {
  const keys = Object.keys(obj || {});
  if (!keys.length) return '<p class="muted">none</p>';
  return wrap(`<table id="${id}" class="kv"><tbody>` + keys.map(k => `<tr><th title="${esc(k)}">${esc(k)}</th>${numeric ? numCell(obj[k]) : textCell(obj[k], "wrap")}</tr>`).join("") + "</tbody></table>");
}

async function viewRun(id) {
  const r = await api(`/api/runs/${encodeURIComponent(id)}`);
  const i = r.info;
  const metricKeys = Object.keys(r.metrics);
  const expName = r.experiment_name || i.experiment_id;
  const registered = r.model_versions.length ? `<p id="registered">registered as ${versionLinks(r.model_versions)}</p>` : "";
  let html = `<h1>Run ${esc(i.run_name || i.run_id)}</h1>
  <p><span class="badge">${esc(i.status)}</span><span class="muted">${esc(i.run_id)} · experiment <a href="#/experiments/${esc(i.experiment_id)}">${esc(expName)}</a> · started ${when(i.start_time)} · ${dur(i.end_time ? i.end_time - i.start_time : null)} · ${esc(i.user_id)}</span></p>${registered}
  <div class="side"><div><h2>Metrics (latest)</h2>${kvTable("metrics", Object.fromEntries(metricKeys.map(k => [k, r.metrics[k].value])), true)}</div>
  <div><h2>Params</h2>${kvTable("params", r.params)}</div></div>
  <h2>Metric history</h2><div class="grid" id="histories"></div>
  <h2>Tags</h2>${kvTable("tags", r.tags)}${r.tags["mlflow.parentRunId"] ? `<p>part of <a id="parent-link" href="#/runs/${esc(r.tags["mlflow.parentRunId"])}">its parent run</a></p>` : ""}
  <h2>Datasets</h2>${r.inputs.length ? wrap("<table><thead><tr><th>name</th><th>digest</th><th>source</th><th>context</th></tr></thead><tbody>" + r.inputs.map(d => `<tr><td>${esc(d.name)}</td><td>${esc(d.digest)}</td><td>${esc(d.source_type)}</td><td>${esc(d.context)}</td></tr>`).join("") + "</tbody></table>") : '<p class="muted">none</p>'}
  <h2>Model signature</h2>${r.signature ? wrap(`<table id="signature"><thead><tr><th>input</th><th>type</th></tr></thead><tbody>` + (r.signature.inputs || []).map(c => `<tr><td>${esc(c.name)}</td><td>${esc(c.type)}</td></tr>`).join("") + `</tbody></table>`) + `<p class="muted cut" title="${esc(JSON.stringify(r.signature.outputs))}">outputs: ${esc(JSON.stringify(r.signature.outputs))}</p>` : '<p class="muted">no model</p>'}
  <h2>Artifacts</h2><div id="artifacts">${r.artifacts.length ? "" : '<p class="muted">none</p>'}</div>`;
  app.innerHTML = html;
  editRun(r, id);
  artifactTree(document.getElementById("artifacts"), id, r.artifacts);
  // A history chart for each metric logged more than once; single values are in the metrics table.
  const grid = document.getElementById("histories");
  const hists = await Promise.all(metricKeys.map(k => api(`/api/runs/${encodeURIComponent(id)}/metrics/${encodeURIComponent(k)}`)));
  const drawn = metricKeys.filter((k, n) => hists[n].length > 1);
  grid.innerHTML = drawn.map(k => `<div class="card"><h3 title="${esc(k)}">${esc(k)}</h3><div data-metric="${esc(k)}"></div></div>`).join("") ||
    '<p class="muted">every metric has a single value (see the table above)</p>';
  drawn.forEach(k => {
    const hist = hists[metricKeys.indexOf(k)];
    historyChart(grid.querySelector(`[data-metric="${CSS.escape(k)}"]`), [{name: k, color: color(0), hist}]);
  });
}

async function viewCompare(q) {
  const ids = (q.get("runs") || "").split(",").filter(Boolean);
  const d = await api("/api/compare?runs=" + encodeURIComponent(ids.join(",")));
  const runs = d.runs.map((r, i) => Object.assign({name: r.run_name || r.run_id.slice(0, 8), color: color(i)}, r));
  const paramKeys = [...new Set(runs.flatMap(r => Object.keys(r.params)))].sort();
  const tagKeys = [...new Set(runs.flatMap(r => Object.keys(r.tags)))].sort();
  const metricKeys = Object.keys(d.histories);
  const diffOnly = q.get("diff") === "1";
  const bi = Math.max(0, runs.findIndex(r => r.run_id === q.get("base")));
  const same = vals => new Set(vals.map(v => JSON.stringify(v ?? null))).size <= 1;
  const head = `<thead><tr><th>KEY</th>${runs.map((r, i) => `<th title="${esc(r.run_id)}">${swatch(i)}<a href="#/runs/${esc(r.run_id)}">${esc(r.name)}</a>${i === bi ? ' <span class="muted">(baseline)</span>' : ""}</th>`).join("")}</tr></thead>`;
  const textRows = (keys, get) => keys.map(k => {
    const vals = runs.map(r => get(r)[k]), eq = same(vals);
    return `<tr class="${eq ? "same" : "differ"}"><th title="${esc(k)}">${esc(k)}</th>${vals.map(v => textCell(v)).join("")}</tr>`;
  }).join("");
  const metricRows = metricKeys.map(k => {
    const vals = runs.map(r => r.metrics[k]), ns = vals.map(num), finite = ns.filter(isFinite);
    const lower = d.lower_is_better[k];
    const best = finite.length > 1 ? (lower ? Math.min(...finite) : Math.max(...finite)) : NaN;
    const cells = vals.map((v, i) => {
      const isBest = isFinite(ns[i]) && ns[i] === best;
      let delta = "";
      if (i !== bi && isFinite(ns[i]) && isFinite(ns[bi])) {
        const dv = ns[i] - ns[bi], better = dv === 0 ? "" : ((dv < 0) === lower ? "good" : "bad");
        delta = ` <span class="delta ${better}" title="${esc(full(dv))} against ${esc(runs[bi].name)}">(${dv >= 0 ? "+" : ""}${esc(fmt(dv))})</span>`;
      }
      return `<td class="num${isBest ? " best" : ""}" title="${esc(full(v))}">${isBest ? '<span class="best-mark" title="best">★</span> ' : ""}${esc(fmt(v))}${delta}</td>`;
    }).join("");
    return `<tr class="${same(vals) ? "same" : "differ"}"><th title="${esc(k)}${lower ? " (lower is better)" : " (higher is better)"}">${esc(k)} <span class="muted">${lower ? "↓" : "↑"}</span></th>${cells}</tr>`;
  }).join("");
  // Histories: metrics logged more than once by some run; the rest go in one bar chart.
  const multi = metricKeys.filter(k => Object.values(d.histories[k]).some(h => h.length > 1));
  const single = metricKeys.filter(k => !multi.includes(k));
  const scParam = d.params_differ.find(k => runs.every(r => k in r.params)) || d.params_differ[0];
  let html = `<h1>Compare ${runs.length} runs</h1>${legend(runs)}
  <div class="toolbar"><label class="switch"><input type="checkbox" id="diff-only" ${diffOnly ? "checked" : ""}> differences only</label>
  <label>changes against <select id="baseline">${runs.map((r, i) => `<option value="${esc(r.run_id)}" ${i === bi ? "selected" : ""}>${esc(r.name)}</option>`).join("")}</select></label></div>
  <div id="compare-tables" class="${diffOnly ? "diff-only" : ""}">
  <h2>Metrics</h2>${wrap(`<table id="compare-metrics">${head.replace("KEY", "metric")}<tbody>${metricRows}</tbody></table>`)}
  <p class="muted">★ best (↓ lower is better, ↑ higher, as <code>mlx compare</code>); (±) the change against the baseline run.</p>
  <h2>Params</h2>${wrap(`<table id="compare-params">${head.replace("KEY", "param")}<tbody>${textRows(paramKeys, r => r.params)}</tbody></table>`)}
  <h2>Tags</h2>${wrap(`<table id="compare-tags">${head.replace("KEY", "tag")}<tbody>${textRows(tagKeys, r => r.tags)}</tbody></table>`)}
  </div>
  <h2>Metric histories</h2><div class="grid" id="compare-charts">` +
    multi.map(k => `<div class="card"><h3 title="${esc(k)}">${esc(k)}</h3><div data-metric="${esc(k)}"></div></div>`).join("") + `</div>` +
    (single.length ? `<h2>Single-value metrics</h2><div class="toolbar"><select id="bar-metric">${single.map(k => `<option>${esc(k)}</option>`).join("")}</select></div><div class="card" id="bars"></div>` : "") +
    `<h2>Metric vs param</h2><div class="toolbar"><select id="sc-metric">${metricKeys.map(k => `<option>${esc(k)}</option>`).join("")}</select> against <select id="sc-param">${paramKeys.map(k => `<option ${k === scParam ? "selected" : ""}>${esc(k)}</option>`).join("")}</select></div><div class="card" id="scatter"></div>`;
  app.innerHTML = html;
  document.getElementById("diff-only").onchange = e => {
    document.getElementById("compare-tables").classList.toggle("diff-only", e.target.checked);
    const nq = new URLSearchParams(q);
    if (e.target.checked) nq.set("diff", "1"); else nq.delete("diff");
    history.replaceState(null, "", "#/compare?" + nq.toString());
  };
  document.getElementById("baseline").onchange = e => {
    const nq = new URLSearchParams(q);
    nq.set("base", e.target.value);
    go("/compare", nq);
  };
  multi.forEach(k => historyChart(app.querySelector(`#compare-charts [data-metric="${CSS.escape(k)}"]`),
    runs.map(r => ({name: r.name, color: r.color, hist: d.histories[k][r.run_id] || []}))));
  const bars = () => { const m = document.getElementById("bar-metric").value; barChart(document.getElementById("bars"), runs, runs.map(r => num(r.metrics[m]))); };
  if (single.length) { document.getElementById("bar-metric").onchange = bars; bars(); }
  const draw = () => {
    const m = document.getElementById("sc-metric").value, p = document.getElementById("sc-param").value, el = document.getElementById("scatter");
    if (m && p) scatterChart(el, runs.map(r => ({x: r.params[p] ?? "", y: num(r.metrics[m]), label: r.name, color: r.color})), p, m);
    else el.innerHTML = '<p class="muted">no metrics or params</p>';
  };
  document.getElementById("sc-metric").onchange = draw;
  document.getElementById("sc-param").onchange = draw;
  draw();
}

async function viewModels() {
  const ms = await api("/api/models");
  app.innerHTML = `<h1>Registered models</h1>` + (ms.length ? wrap(`<table id="models"><thead><tr><th>name</th><th>latest</th><th>aliases</th><th>tags</th><th>updated</th><th>description</th></tr></thead><tbody>` +
    ms.map(m => `<tr><td><a href="#/models/${encodeURIComponent(m.name)}">${esc(m.name)}</a></td><td>${esc(m.latest_version ?? "")}</td><td>${Object.entries(m.aliases).map(([a, v]) => `<span class="badge">${esc(a)}=v${esc(v)}</span>`).join("")}</td>${textCell(Object.entries(m.tags || {}).filter(([k]) => !k.startsWith("mlx.alias_history.")).map(([k, v]) => k + "=" + v).join(", "))}<td>${when(m.last_updated_timestamp)}</td>${textCell(m.description)}</tr>`).join("") + "</tbody></table>")
    : '<p class="muted">No registered models. <code>mlx register RUN_ID</code> makes one.</p>');
}

async function viewModel(name) {
  const d = await api(`/api/models/${encodeURIComponent(name)}`);
  const m = d.model;
  let html = `<h1>Model ${esc(m.name)}</h1>
  <h2>Versions</h2>${wrap(`<table id="versions"><thead><tr><th>version</th><th>aliases</th><th>created</th><th>run</th><th>source</th><th>description</th></tr></thead><tbody>` +
    d.versions.map(v => `<tr><td>${esc(v.version)}</td><td>${v.aliases.map(a => `<span class="badge">${esc(a)}</span>`).join("")}</td><td>${when(v.creation_timestamp)}</td><td>${v.run_id ? `<a href="#/runs/${esc(v.run_id)}">${esc(v.run_id.slice(0, 8))}</a>` : ""}</td>${textCell(v.source, "cut muted")}${textCell(v.description)}</tr>`).join("") + `</tbody></table>`)}
  <h2>Aliases</h2>`;
  for (const [alias, moves] of Object.entries(d.alias_history)) {
    const cur = m.aliases[alias];
    html += `<div class="card"><h3>${esc(alias)} → ${cur ? "v" + esc(cur) : "(unset)"}</h3>${wrap(`<table class="history"><thead><tr><th>when</th><th>who</th><th>move</th><th>kind</th></tr></thead><tbody>` +
      moves.map(h => `<tr><td>${when(h.timestamp)}</td><td>${esc(h.user)}</td><td>${h.from ? "v" + esc(h.from) : "(none)"} → ${h.to ? "v" + esc(h.to) : "(none)"}</td><td>${esc(h.kind)}</td></tr>`).join("") +
      `</tbody></table>`)}<p><button class="rollback" data-alias="${esc(alias)}">Roll back ${esc(alias)}</button></p></div>`;
  }
  html += `<h2>Move an alias</h2><form class="toolbar" id="alias-form">
    <input id="alias-name" placeholder="alias" value="Champion" style="width:140px">
    <select id="alias-version">${d.versions.map(v => `<option value="${esc(v.version)}">v${esc(v.version)}</option>`).join("")}</select>
    <input id="token" type="password" placeholder="token (if the UI has one)" style="width:200px" value="${esc(sessionStorage.getItem("mlx-token") || "")}">
    <button class="primary" type="submit">Set alias</button></form><div id="admin-result"></div>`;
  app.innerHTML = html;
  const admin = async (path, body) => {
    const token = document.getElementById("token").value;
    sessionStorage.setItem("mlx-token", token);
    const out = document.getElementById("admin-result");
    try {
      const r = await api(path, {method: "POST", headers: Object.assign({"Content-Type": "application/json"}, token ? {Authorization: "Bearer " + token} : {}), body: JSON.stringify(body)});
      out.innerHTML = `<p class="ok">${esc(r.alias)}: ${r.from ? "v" + esc(r.from) : "(none)"} → v${esc(r.to)}</p>`;
      setTimeout(route, 600);
    } catch (e) { out.innerHTML = `<div class="error">${esc(e.message)}</div>`; }
  };
  document.getElementById("alias-form").onsubmit = e => {
    e.preventDefault();
    admin(`/admin/models/${encodeURIComponent(name)}/alias`, {alias: document.getElementById("alias-name").value, version: Number(document.getElementById("alias-version").value)});
  };
  app.querySelectorAll("button.rollback").forEach(b => b.onclick = () => admin(`/admin/models/${encodeURIComponent(name)}/rollback`, {alias: b.dataset.alias}));
  editModel(d, name);
}

async function route() {
  // This render is at the window's current width: a re-render a resize scheduled is not needed.
  clearTimeout(resizing);
  const {parts, q} = parseHash();
  setStatus("loading…");
  destroyCharts();
  try {
    if (parts[0] === "experiments" && parts[1]) await viewRuns(parts[1], q);
    else if (parts[0] === "runs" && parts[1]) await viewRun(parts[1]);
    else if (parts[0] === "compare") await viewCompare(q);
    else if (parts[0] === "models" && parts[1]) await viewModel(parts[1]);
    else if (parts[0] === "models") await viewModels();
    else await viewExperiments();
  } catch (e) {
    const back = parts[0] === "models" ? `<a href="#/models">← all registered models</a>` : `<a href="#/">← all experiments</a>`;
    app.innerHTML = e.status === 404
      ? `<div id="not-found"><h1>Not found</h1><div class="error" id="page-error">${esc(e.message)}</div><p>${back}</p></div>`
      : `<div class="error" id="page-error">${esc(e.message)}</div><p>${back}</p>`;
  }
  setStatus("");
  document.body.dataset.ready = "1";
}
window.addEventListener("hashchange", () => { document.body.dataset.ready = ""; route(); });
// Charts are drawn at their box's width: draw the view again when the window's width changes.
let lastWidth = window.innerWidth, resizing = null;
window.addEventListener("resize", () => {
  if (window.innerWidth === lastWidth) return;
  lastWidth = window.innerWidth;
  clearTimeout(resizing);
  // The view is drawn again: not ready until then.
  document.body.dataset.ready = "";
  resizing = setTimeout(route, 250);
});
route();
