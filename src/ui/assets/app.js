// mlx ui: a small single-page app over mlx's JSON API. The page state lives in the URL hash, so every view
// (a filtered runs table, a comparison) can be bookmarked and shared. No dependencies, no network but /api/.
"use strict";

const app = document.getElementById("app");
const COLORS = ["#2b6cb0", "#c05621", "#2f855a", "#9b2c2c", "#6b46c1", "#b7791f", "#2c7a7b", "#97266d"];

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function fmt(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+$/, "");
  return v === undefined || v === null ? "" : String(v);
}
function when(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : ""; }
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

// ---- charts (SVG, drawn here) ----
function scale(min, max, a, b) {
  if (!(max > min)) { min -= 1; max += 1; }
  return v => a + (v - min) / (max - min) * (b - a);
}
function num(v) { return typeof v === "number" ? v : NaN; }
function lineChart(series, xLabel) {
  const W = 560, H = 220, L = 48, R = 10, T = 10, B = 28;
  const pts = series.flatMap(s => s.points).filter(p => isFinite(p[0]) && isFinite(p[1]));
  if (!pts.length) return '<p class="muted">no finite values to draw</p>';
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = scale(x0, x1, L, W - R), sy = scale(y0, y1, H - B, T);
  let out = `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">`;
  out += `<line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>`;
  out += `<text x="${L - 4}" y="${T + 8}" text-anchor="end">${esc(fmt(y1))}</text><text x="${L - 4}" y="${H - B}" text-anchor="end">${esc(fmt(y0))}</text>`;
  out += `<text x="${L}" y="${H - 8}">${esc(fmt(x0))}</text><text x="${W - R}" y="${H - 8}" text-anchor="end">${esc(fmt(x1))} ${esc(xLabel || "")}</text>`;
  series.forEach((s, i) => {
    const p = s.points.filter(p => isFinite(p[0]) && isFinite(p[1]));
    const color = s.color || COLORS[i % COLORS.length];
    if (p.length > 1) {
      out += `<polyline class="series" fill="none" stroke="${color}" stroke-width="1.8" points="${p.map(q => sx(q[0]).toFixed(1) + "," + sy(q[1]).toFixed(1)).join(" ")}"><title>${esc(s.name)}</title></polyline>`;
    } else if (p.length === 1) {
      out += `<circle class="series" cx="${sx(p[0][0])}" cy="${sy(p[0][1])}" r="4" fill="${color}"><title>${esc(s.name)}: ${esc(fmt(p[0][1]))}</title></circle>`;
    }
  });
  return out + "</svg>";
}
function scatterChart(points, xLabel, yLabel) {
  const W = 560, H = 240, L = 48, R = 10, T = 10, B = 34;
  const numeric = points.every(p => p.x !== "" && !isNaN(Number(p.x)));
  const cats = numeric ? [] : [...new Set(points.map(p => p.x))].sort();
  const xv = p => numeric ? Number(p.x) : cats.indexOf(p.x);
  const good = points.filter(p => isFinite(p.y));
  if (!good.length) return '<p class="muted">no values to draw</p>';
  const xs = good.map(xv), ys = good.map(p => p.y);
  const sx = scale(Math.min(...xs), Math.max(...xs), L + 10, W - R - 10), sy = scale(Math.min(...ys), Math.max(...ys), H - B, T);
  let out = `<svg class="chart scatter" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">`;
  out += `<line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>`;
  out += `<text x="${L - 4}" y="${T + 8}" text-anchor="end">${esc(fmt(Math.max(...ys)))}</text><text x="${L - 4}" y="${H - B}" text-anchor="end">${esc(fmt(Math.min(...ys)))}</text>`;
  if (numeric) {
    out += `<text x="${L}" y="${H - 18}">${esc(fmt(Math.min(...xs)))}</text><text x="${W - R}" y="${H - 18}" text-anchor="end">${esc(fmt(Math.max(...xs)))}</text>`;
  } else {
    cats.forEach((c, i) => { out += `<text x="${sx(i)}" y="${H - 18}" text-anchor="middle">${esc(c)}</text>`; });
  }
  out += `<text x="${(L + W) / 2}" y="${H - 3}" text-anchor="middle">${esc(xLabel)} → ${esc(yLabel)}</text>`;
  good.forEach((p, i) => {
    out += `<circle class="point" cx="${sx(xv(p)).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="5" fill="${COLORS[i % COLORS.length]}"><title>${esc(p.label)}: ${esc(xLabel)}=${esc(p.x)}, ${esc(yLabel)}=${esc(fmt(p.y))}</title></circle>`;
  });
  return out + "</svg>";
}
function legend(names) {
  return '<div class="legend">' + names.map((n, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(n)}</span>`).join("") + "</div>";
}

// ---- views ----
async function viewExperiments() {
  const exps = await api("/api/experiments");
  app.innerHTML = `<h1>Experiments</h1>` + (exps.length ? `<table id="experiments"><tr><th>id</th><th>name</th><th>created</th><th>artifact location</th></tr>` +
    exps.map(e => `<tr><td>${esc(e.experiment_id)}</td><td><a href="#/experiments/${encodeURIComponent(e.experiment_id)}">${esc(e.name)}</a></td><td>${when(e.creation_time)}</td><td class="muted">${esc(e.artifact_location)}</td></tr>`).join("") + "</table>"
    : '<p class="muted">No experiments yet. <code>mlx train</code> or <code>mlx log start</code> makes one.</p>');
}

async function viewRuns(id, q) {
  const filter = q.get("filter") || "", order = q.get("order") || "", page = Math.max(0, parseInt(q.get("page") || "0", 10) || 0);
  const limit = 100;
  const params = new URLSearchParams({filter, order_by: order, offset: String(page * limit), limit: String(limit)});
  let data, error = null;
  try { data = await api(`/api/experiments/${encodeURIComponent(id)}/runs?` + params); }
  catch (e) { if (e.status === 400) { error = e.message; data = null; } else throw e; }
  const exp = data ? data.experiment : {name: id};
  const metricKeys = data ? data.metric_keys : [], paramKeys = data ? data.param_keys : [];
  const chosen = q.get("cols") !== null ? q.get("cols").split(",").filter(Boolean)
    : metricKeys.slice(0, 6).map(k => "m:" + k).concat(paramKeys.slice(0, 3).map(k => "p:" + k));
  let html = `<h1>Runs of ${esc(exp.name)}</h1>
  <form class="toolbar" id="filter-form">
    <input type="text" id="filter" name="filter" placeholder="metrics.accuracy > 0.8 AND params.model = 'rf'" value="${esc(filter)}">
    <button class="primary" type="submit">Filter</button>
    <button type="button" id="clear">Clear</button>
    <button type="button" id="compare" disabled>Compare selected</button>
    <span class="muted" id="count">${data ? `${data.total} runs` : ""}</span>
  </form>`;
  if (error) html += `<div class="error" id="filter-error">${esc(error)}</div>`;
  html += `<details class="columns"><summary>Columns</summary>` +
    metricKeys.map(k => `<label><input type="checkbox" data-col="m:${esc(k)}" ${chosen.includes("m:" + k) ? "checked" : ""}> ${esc(k)}</label>`).join("") + "<br>" +
    paramKeys.map(k => `<label><input type="checkbox" data-col="p:${esc(k)}" ${chosen.includes("p:" + k) ? "checked" : ""}> params.${esc(k)}</label>`).join("") + `</details>`;
  if (data) {
    const [okey, odir] = order.split(/\s+/);
    const head = (label, key) => `<th class="sortable ${okey === key ? "sorted" + (odir === "ASC" ? " asc" : "") : ""}" data-key="${esc(key)}">${esc(label)}</th>`;
    html += `<table id="runs"><tr><th></th>${head("name", "attributes.run_name")}${head("status", "attributes.status")}${head("start", "attributes.start_time")}<th>duration</th>` +
      chosen.map(c => c.startsWith("m:") ? head(c.slice(2), "metrics." + c.slice(2)) : head("params." + c.slice(2), "params." + c.slice(2))).join("") + "</tr>";
    for (const r of data.runs) {
      html += `<tr class="run" data-run="${esc(r.run_id)}"><td><input type="checkbox" class="pick" value="${esc(r.run_id)}"></td><td><a href="#/runs/${esc(r.run_id)}">${esc(r.run_name || r.run_id)}</a></td><td>${esc(r.status)}</td><td>${when(r.start_time)}</td><td class="num">${dur(r.duration_ms)}</td>` +
        chosen.map(c => c.startsWith("m:") ? `<td class="num">${esc(fmt(r.metrics[c.slice(2)]))}</td>` : `<td>${esc(r.params[c.slice(2)])}</td>`).join("") + "</tr>";
    }
    html += "</table>";
    const pages = Math.ceil(data.total / limit);
    if (pages > 1) html += `<div class="pager"><button id="prev" ${page === 0 ? "disabled" : ""}>‹ Previous</button><span>page ${page + 1} of ${pages}</span><button id="next" ${page + 1 >= pages ? "disabled" : ""}>Next ›</button></div>`;
  }
  app.innerHTML = html;
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
  app.querySelectorAll("details.columns input").forEach(cb => cb.onchange = () => {
    const cols = [...app.querySelectorAll("details.columns input:checked")].map(c => c.dataset.col);
    nav({cols: cols.join(",")});
  });
  const cmp = document.getElementById("compare");
  app.querySelectorAll("input.pick").forEach(cb => cb.onchange = () => {
    cmp.disabled = app.querySelectorAll("input.pick:checked").length < 2;
  });
  cmp.onclick = () => go("/compare", new URLSearchParams({runs: [...app.querySelectorAll("input.pick:checked")].map(c => c.value).join(",")}));
  const prev = document.getElementById("prev"), next = document.getElementById("next");
  if (prev) prev.onclick = () => nav({page: String(page - 1)});
  if (next) next.onclick = () => nav({page: String(page + 1)});
}

function kvTable(id, obj, cls) {
  const keys = Object.keys(obj || {});
  if (!keys.length) return '<p class="muted">none</p>';
  return `<table id="${id}">` + keys.map(k => `<tr><th>${esc(k)}</th><td class="${cls || ""}">${esc(fmt(obj[k]))}</td></tr>`).join("") + "</table>";
}

async function viewRun(id) {
  const r = await api(`/api/runs/${encodeURIComponent(id)}`);
  const i = r.info;
  const metricKeys = Object.keys(r.metrics);
  let html = `<h1>Run ${esc(i.run_name || i.run_id)}</h1>
  <p><span class="badge">${esc(i.status)}</span><span class="muted">${esc(i.run_id)} · experiment <a href="#/experiments/${esc(i.experiment_id)}">${esc(i.experiment_id)}</a> · started ${when(i.start_time)} · ${dur(i.end_time ? i.end_time - i.start_time : null)} · ${esc(i.user_id)}</span></p>
  <div class="grid"><div><h2>Params</h2>${kvTable("params", r.params)}</div>
  <div><h2>Metrics (latest)</h2>${kvTable("metrics", Object.fromEntries(metricKeys.map(k => [k, r.metrics[k].value])), "num")}</div></div>
  <h2>Metric history</h2><div class="grid" id="histories">${metricKeys.map(k => `<div class="card"><h3>${esc(k)}</h3><div data-metric="${esc(k)}" class="muted">loading…</div></div>`).join("") || '<p class="muted">none</p>'}</div>
  <h2>Tags</h2>${kvTable("tags", r.tags)}
  <h2>Datasets</h2>${r.inputs.length ? "<table><tr><th>name</th><th>digest</th><th>source</th><th>context</th></tr>" + r.inputs.map(d => `<tr><td>${esc(d.name)}</td><td>${esc(d.digest)}</td><td>${esc(d.source_type)}</td><td>${esc(d.context)}</td></tr>`).join("") + "</table>" : '<p class="muted">none</p>'}
  <h2>Model signature</h2>${r.signature ? `<table id="signature"><tr><th>input</th><th>type</th></tr>` + (r.signature.inputs || []).map(c => `<tr><td>${esc(c.name)}</td><td>${esc(c.type)}</td></tr>`).join("") + `</table><p class="muted">outputs: ${esc(JSON.stringify(r.signature.outputs))}</p>` : '<p class="muted">no model</p>'}
  <h2>Artifacts</h2><div id="artifacts">${r.artifacts.length ? "" : '<p class="muted">none</p>'}</div>`;
  app.innerHTML = html;
  const box = document.getElementById("artifacts");
  for (const a of r.artifacts) {
    const url = `/api/runs/${encodeURIComponent(id)}/artifact?path=${encodeURIComponent(a.path)}`;
    const div = document.createElement("div");
    div.className = "card";
    div.innerHTML = `<h3><a href="${url}" target="_blank">${esc(a.path)}</a> <span class="muted">${a.file_size ?? ""} bytes</span></h3>`;
    if (/\.(png|jpe?g|gif)$/i.test(a.path)) div.innerHTML += `<img class="artifact" alt="${esc(a.path)}" src="${url}">`;
    else if (/\.(txt|json|csv|ya?ml|md|log|toml)$/i.test(a.path) && (a.file_size ?? 0) < 200000) {
      const pre = document.createElement("pre"); pre.className = "artifact"; pre.textContent = "loading…"; div.appendChild(pre);
      fetch(url).then(t => t.text()).then(t => { pre.textContent = t; });
    }
    box.appendChild(div);
  }
  for (const k of metricKeys) {
    const hist = await api(`/api/runs/${encodeURIComponent(id)}/metrics/${encodeURIComponent(k)}`);
    const el = app.querySelector(`[data-metric="${CSS.escape(k)}"]`);
    el.className = "";
    el.innerHTML = lineChart([{name: k, points: hist.map(p => [p.step, num(p.value)])}], "step") + `<span class="muted">${hist.length} points</span>`;
  }
}

async function viewCompare(q) {
  const ids = (q.get("runs") || "").split(",").filter(Boolean);
  const d = await api("/api/compare?runs=" + encodeURIComponent(ids.join(",")));
  const names = d.runs.map(r => r.run_name || r.run_id.slice(0, 8));
  const paramKeys = [...new Set(d.runs.flatMap(r => Object.keys(r.params)))].sort();
  const metricKeys = Object.keys(d.histories);
  let html = `<h1>Compare ${d.runs.length} runs</h1>${legend(names)}
  <h2>Params</h2><table id="compare-params"><tr><th>param</th>${names.map(n => `<th>${esc(n)}</th>`).join("")}</tr>` +
    paramKeys.map(k => `<tr class="${d.params_differ.includes(k) ? "differ" : ""}"><th>${esc(k)}</th>${d.runs.map(r => `<td>${esc(r.params[k])}</td>`).join("")}</tr>`).join("") + `</table>
  <h2>Metrics</h2><table id="compare-metrics"><tr><th>metric</th>${names.map(n => `<th>${esc(n)}</th>`).join("")}</tr>` +
    metricKeys.map(k => `<tr><th>${esc(k)}</th>${d.runs.map(r => `<td class="num">${esc(fmt(r.metrics[k]))}</td>`).join("")}</tr>`).join("") + `</table>
  <h2>Metric histories</h2><div class="grid" id="compare-charts">` +
    metricKeys.map(k => `<div class="card"><h3>${esc(k)}</h3>${lineChart(d.runs.map((r, i) => ({name: names[i], points: (d.histories[k][r.run_id] || []).map(p => [p.step, num(p.value)])})), "step")}</div>`).join("") + `</div>
  <h2>Metric vs param</h2><div class="toolbar"><select id="sc-metric">${metricKeys.map(k => `<option>${esc(k)}</option>`).join("")}</select> against <select id="sc-param">${paramKeys.map(k => `<option ${k === d.params_differ[0] ? "selected" : ""}>${esc(k)}</option>`).join("")}</select></div><div class="card" id="scatter"></div>`;
  app.innerHTML = html;
  const draw = () => {
    const m = document.getElementById("sc-metric").value, p = document.getElementById("sc-param").value;
    document.getElementById("scatter").innerHTML = m && p ? scatterChart(d.runs.map((r, i) => ({x: r.params[p] ?? "", y: num(r.metrics[m]), label: names[i]})), p, m) : '<p class="muted">no metrics or params</p>';
  };
  document.getElementById("sc-metric").onchange = draw;
  document.getElementById("sc-param").onchange = draw;
  draw();
}

async function viewModels() {
  const ms = await api("/api/models");
  app.innerHTML = `<h1>Registered models</h1>` + (ms.length ? `<table id="models"><tr><th>name</th><th>latest</th><th>aliases</th><th>updated</th><th>description</th></tr>` +
    ms.map(m => `<tr><td><a href="#/models/${encodeURIComponent(m.name)}">${esc(m.name)}</a></td><td>${esc(m.latest_version ?? "")}</td><td>${Object.entries(m.aliases).map(([a, v]) => `<span class="badge">${esc(a)}=v${esc(v)}</span>`).join("")}</td><td>${when(m.last_updated_timestamp)}</td><td>${esc(m.description)}</td></tr>`).join("") + "</table>"
    : '<p class="muted">No registered models. <code>mlx register RUN_ID</code> makes one.</p>');
}

async function viewModel(name) {
  const d = await api(`/api/models/${encodeURIComponent(name)}`);
  const m = d.model;
  let html = `<h1>Model ${esc(m.name)}</h1><p class="muted">${esc(m.description)}</p>
  <h2>Versions</h2><table id="versions"><tr><th>version</th><th>aliases</th><th>created</th><th>run</th><th>source</th><th>description</th></tr>` +
    d.versions.map(v => `<tr><td>${esc(v.version)}</td><td>${v.aliases.map(a => `<span class="badge">${esc(a)}</span>`).join("")}</td><td>${when(v.creation_timestamp)}</td><td>${v.run_id ? `<a href="#/runs/${esc(v.run_id)}">${esc(v.run_id.slice(0, 8))}</a>` : ""}</td><td class="muted">${esc(v.source)}</td><td>${esc(v.description)}</td></tr>`).join("") + `</table>
  <h2>Aliases</h2>`;
  for (const [alias, moves] of Object.entries(d.alias_history)) {
    const cur = m.aliases[alias];
    html += `<div class="card"><h3>${esc(alias)} → ${cur ? "v" + esc(cur) : "(unset)"}</h3><table class="history"><tr><th>when</th><th>who</th><th>move</th><th>kind</th></tr>` +
      moves.map(h => `<tr><td>${when(h.timestamp)}</td><td>${esc(h.user)}</td><td>${h.from ? "v" + esc(h.from) : "(none)"} → ${h.to ? "v" + esc(h.to) : "(none)"}</td><td>${esc(h.kind)}</td></tr>`).join("") +
      `</table><p><button class="rollback" data-alias="${esc(alias)}">Roll back ${esc(alias)}</button></p></div>`;
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
}

async function route() {
  const {parts, q} = parseHash();
  setStatus("loading…");
  try {
    if (parts[0] === "experiments" && parts[1]) await viewRuns(parts[1], q);
    else if (parts[0] === "runs" && parts[1]) await viewRun(parts[1]);
    else if (parts[0] === "compare") await viewCompare(q);
    else if (parts[0] === "models" && parts[1]) await viewModel(parts[1]);
    else if (parts[0] === "models") await viewModels();
    else await viewExperiments();
    setStatus("");
    document.body.dataset.ready = "1";
  } catch (e) {
    app.innerHTML = `<div class="error" id="page-error">${esc(e.message)}</div>`;
    setStatus("");
    document.body.dataset.ready = "1";
  }
}
window.addEventListener("hashchange", () => { document.body.dataset.ready = ""; route(); });
route();
