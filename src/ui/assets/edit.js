// mlx ui: editing (tags, descriptions in Markdown, a run's name and state) through POST /admin/edit, and the
// runs list's extra filters (state, start-time range, dataset, group by). Loaded before app.js; its
// functions are called by app.js's views and use app.js's helpers (esc, api, fmt, num, route) at run time.
"use strict";

// ---- Markdown, safely: the text is escaped first, so no HTML of the source ever reaches the page; links
// only to http(s), mailto, a page anchor or a path of this server (never javascript:, data:, ...). ----
function safeUrl(url) { return /^(https?:\/\/|mailto:|#|\/(?!\/))/i.test(url); }
function mdInline(text) {
  const codes = [];
  let s = esc(text).replace(/`([^`]+)`/g, (_, c) => { codes.push(c); return `\u0000${codes.length - 1}\u0000`; });
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (m, label, url) => safeUrl(url) ? `<a href="${url}" rel="noopener noreferrer" target="_blank">${label}</a>` : label);
  s = s.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>").replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>");
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${codes[Number(i)]}</code>`);
}
function markdown(src) {
  const lines = String(src ?? "").replace(/\r\n?/g, "\n").split("\n");
  let out = "", para = [], list = null, code = null;
  const flush = () => {
    if (para.length) out += `<p>${para.map(mdInline).join("<br>")}</p>`;
    if (list) out += `<${list.tag}>${list.items.map(i => `<li>${mdInline(i)}</li>`).join("")}</${list.tag}>`;
    para = []; list = null;
  };
  for (const line of lines) {
    if (code !== null) {
      if (/^```/.test(line)) { out += `<pre><code>${esc(code.join("\n"))}</code></pre>`; code = null; } else code.push(line);
      continue;
    }
    let m;
    if (/^```/.test(line)) { flush(); code = []; }
    else if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) { flush(); const n = Math.min(6, m[1].length + 2); out += `<h${n}>${mdInline(m[2])}</h${n}>`; }
    else if ((m = /^\s*([-*]|\d+\.)\s+(.*)$/.exec(line))) {
      const tag = /\d/.test(m[1]) ? "ol" : "ul";
      if (para.length || (list && list.tag !== tag)) flush();
      if (!list) list = {tag, items: []};
      list.items.push(m[2]);
    }
    else if (!line.trim()) flush();
    else { if (list) flush(); para.push(line); }
  }
  if (code !== null) out += `<pre><code>${esc(code.join("\n"))}</code></pre>`;
  flush();
  return out;
}

// ---- editing ----
// Which edit panels are open, so they stay open when the view is drawn again after a change.
const editOpen = new Set();
// The answer to the last edit, shown again in its panel once the view is drawn anew: {key, html}.
let lastResult = null;

async function postEdit(panel, key, body) {
  const token = panel.querySelector(".edit-token").value;
  sessionStorage.setItem("mlx-token", token);
  const out = panel.querySelector(".edit-result");
  try {
    const r = await api("/admin/edit", {method: "POST", headers: Object.assign({"Content-Type": "application/json"}, token ? {Authorization: "Bearer " + token} : {}), body: JSON.stringify(body)});
    lastResult = {key, html: `<p class="ok">${esc(r.done)}</p>`};
    document.body.dataset.ready = "";
    await route();
  } catch (e) {
    out.innerHTML = `<div class="error">${esc(e.message)}</div>`;
    document.body.dataset.ready = "1";
  }
}

// An edit panel: the description rendered from Markdown, and under "Edit" the forms that change it, the
// tags and (for a run) the name and state. `what`: {target, id, version}; `cur`: {tags, description,
// name, deleted}. Tags mlx and MLflow keep for themselves (mlflow.*, mlx.alias_history.*) are listed but
// not offered for deleting.
function editPanel(what, cur, label) {
  const key = `${what.target}:${what.id}:${what.version ?? ""}`;
  const tags = Object.entries(cur.tags || {}).filter(([k]) => k !== "mlflow.note.content");
  const reserved = k => k.startsWith("mlflow.") || k.startsWith("mlx.alias_history.");
  const desc = cur.description || "";
  const div = document.createElement("div");
  div.className = desc ? "card edit-panel" : "edit-panel empty";
  div.dataset.target = what.target;
  div.innerHTML = `<div class="md description">${desc ? markdown(desc) : ""}</div>
  <details class="edit" ${editOpen.has(key) ? "open" : ""}><summary>Edit ${esc(label)}</summary>
  <div class="toolbar"><input class="edit-token" type="password" placeholder="token (if the UI has one)" value="${esc(sessionStorage.getItem("mlx-token") || "")}"></div>
  ${what.target === "run" ? `<form class="toolbar rename"><input class="new-name" value="${esc(cur.name || "")}" placeholder="run name"><button type="submit">Rename</button>
    ${cur.deleted ? '<button type="button" class="restore-run">Restore run</button>' : '<button type="button" class="delete-run">Delete run</button>'}</form>` : ""}
  <form class="describe"><textarea class="description-text" rows="4" placeholder="Description (Markdown)">${esc(desc)}</textarea><div><button type="submit">Save description</button></div></form>
  <table class="edit-tags"><tbody>${tags.map(([k, v]) => `<tr data-key="${esc(k)}"><th title="${esc(k)}">${esc(k)}</th><td class="wrap">${esc(v)}</td><td>${reserved(k) ? "" : `<button type="button" class="delete-tag" data-key="${esc(k)}" title="delete this tag">×</button>`}</td></tr>`).join("")}</tbody></table>
  <form class="toolbar set-tag"><input class="tag-key" placeholder="tag key"><input class="tag-value" placeholder="value"><button type="submit">Set tag</button></form>
  <div class="edit-result">${lastResult && lastResult.key === key ? lastResult.html : ""}</div></details>`;
  if (lastResult && lastResult.key === key) lastResult = null;
  const details = div.querySelector("details.edit");
  details.ontoggle = () => { if (details.open) editOpen.add(key); else editOpen.delete(key); };
  const send = (action, extra) => postEdit(div, key, Object.assign({target: what.target, id: what.id, action}, what.version !== undefined ? {version: what.version} : {}, extra));
  div.querySelector("form.describe").onsubmit = e => { e.preventDefault(); send("describe", {value: div.querySelector(".description-text").value}); };
  div.querySelector("form.set-tag").onsubmit = e => { e.preventDefault(); send("set_tag", {key: div.querySelector(".tag-key").value.trim(), value: div.querySelector(".tag-value").value}); };
  div.querySelectorAll("button.delete-tag").forEach(b => b.onclick = () => send("delete_tag", {key: b.dataset.key}));
  const rename = div.querySelector("form.rename");
  if (rename) rename.onsubmit = e => { e.preventDefault(); send("rename", {value: div.querySelector(".new-name").value}); };
  const del = div.querySelector(".delete-run"), restore = div.querySelector(".restore-run");
  if (del) del.onclick = () => send("delete");
  if (restore) restore.onclick = () => send("restore");
  return div;
}

// The run page: its description and edit panel under the title.
function editRun(r, id) {
  const panel = editPanel({target: "run", id}, {tags: r.tags, description: r.tags["mlflow.note.content"], name: r.info.run_name, deleted: r.info.lifecycle_stage === "deleted"}, "run");
  panel.id = "edit-run";
  app.querySelector(".side").before(panel);
}

// The model page: the model's panel, and one for the version picked in its list.
function editModel(d, name) {
  const panel = editPanel({target: "model", id: name}, {tags: d.model.tags, description: d.model.description}, "model");
  panel.id = "edit-model";
  app.querySelector("h1").after(panel);
  if (!d.versions.length) return;
  const box = document.createElement("div");
  box.id = "edit-version";
  const picked = Number(sessionStorage.getItem("mlx-edit-version:" + name)) || d.versions[0].version;
  const v = d.versions.find(x => Number(x.version) === picked) || d.versions[0];
  box.innerHTML = `<h2>Version <select class="pick-version">${d.versions.map(x => `<option value="${esc(x.version)}" ${x === v ? "selected" : ""}>v${esc(x.version)}</option>`).join("")}</select></h2>`;
  box.appendChild(editPanel({target: "version", id: name, version: Number(v.version)}, {tags: v.tags, description: v.description}, "version " + v.version));
  document.getElementById("versions").closest(".tablewrap").after(box);
  box.querySelector(".pick-version").onchange = e => { sessionStorage.setItem("mlx-edit-version:" + name, e.target.value); document.body.dataset.ready = ""; route(); };
}

// ---- the runs list's filters ----
// A filter string value, quoted for MLflow's grammar.
function quote(v) { return v.includes("'") ? `"${v}"` : `'${v}'`; }

// The filter the runs list asks for: the typed one, and the start-time range and dataset picked, joined
// with AND: exactly what `mlx runs list --filter` is given for the same runs.
function runsFilter(q) {
  const typed = (q.get("filter") || "").trim(), extra = [];
  const from = q.get("from"), to = q.get("to"), ds = (q.get("dataset") || "").trim();
  if (from && isFinite(Number(from))) extra.push(`attributes.start_time >= ${Number(from)}`);
  if (to && isFinite(Number(to))) extra.push(`attributes.start_time <= ${Number(to)}`);
  if (ds) extra.push(`datasets.name = ${quote(ds)}`);
  if (!extra.length) return typed;
  return (typed ? [`(${typed})`] : []).concat(extra).join(" AND ");
}
function runsView(q) { return ["deleted", "all"].includes(q.get("state")) ? q.get("state") : "active"; }

// A datetime-local value (the browser's time zone, to the second) and epoch milliseconds.
function localInput(ms) {
  if (!ms || !isFinite(Number(ms))) return "";
  const d = new Date(Number(ms)), p = n => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// Under the filter box: state, start-time range, dataset, group by, and the equivalent command line; then
// the experiment's own description and tags. `nav` changes the URL's query.
function runsFilters(id, q, data, keys, nav) {
  const form = document.getElementById("filter-form");
  const params = keys ? keys.param_keys : [];
  const tagKeys = data ? [...new Set(data.runs.flatMap(r => Object.keys(r.tags)))].filter(k => !k.startsWith("mlflow.")).sort() : [];
  const group = q.get("group") || "", state = runsView(q);
  const bar = document.createElement("div");
  bar.className = "toolbar";
  bar.id = "more-filters";
  bar.innerHTML = `<label>state <select id="state">${["active", "deleted", "all"].map(s => `<option ${s === state ? "selected" : ""}>${s}</option>`).join("")}</select></label>
    <label>started from <input type="datetime-local" step="1" id="from" value="${localInput(q.get("from"))}"></label>
    <label>to <input type="datetime-local" step="1" id="to" value="${localInput(q.get("to"))}"></label>
    <label>dataset <input id="dataset" size="12" value="${esc(q.get("dataset") || "")}"></label>
    <label>group by <select id="group-by"><option value="">(none)</option>${params.map(k => `<option value="params.${esc(k)}" ${group === "params." + k ? "selected" : ""}>params.${esc(k)}</option>`).join("")}${tagKeys.map(k => `<option value="tags.${esc(k)}" ${group === "tags." + k ? "selected" : ""}>tags.${esc(k)}</option>`).join("")}</select></label>`;
  form.after(bar);
  const filter = runsFilter(q);
  if (filter !== (q.get("filter") || "").trim() || state !== "active") {
    const cli = document.createElement("p");
    cli.className = "muted cli";
    cli.innerHTML = `the same runs as <code id="cli-equivalent">${esc(`mlx runs list --experiment ${id}` + (filter ? ` --filter "${filter}"` : "") + (state === "deleted" ? " --deleted" : state === "all" ? " --all" : ""))}</code>`;
    bar.after(cli);
  }
  const ms = el => { const v = document.getElementById(el).value; return v ? String(new Date(v).getTime()) : null; };
  document.getElementById("state").onchange = e => nav({state: e.target.value === "active" ? null : e.target.value, page: null});
  document.getElementById("from").onchange = () => nav({from: ms("from"), page: null});
  document.getElementById("to").onchange = () => nav({to: ms("to"), page: null});
  document.getElementById("dataset").onchange = e => nav({dataset: e.target.value.trim(), page: null});
  document.getElementById("group-by").onchange = e => nav({group: e.target.value});
  // Deleted runs (state "deleted" or "all") are marked.
  if (data) data.runs.filter(r => r.lifecycle_stage === "deleted").forEach(r => {
    const tr = document.querySelector(`tr.run[data-run="${CSS.escape(r.run_id)}"]`);
    if (tr) { tr.classList.add("deleted"); tr.querySelector("td.name a").insertAdjacentHTML("afterend", ' <span class="badge deleted">deleted</span>'); }
  });
  if (data && group) groupRuns(data, group, keys);
  if (keys && keys.experiment) {
    const exp = keys.experiment;
    const panel = editPanel({target: "experiment", id: exp.experiment_id}, {tags: exp.tags, description: (exp.tags || {})["mlflow.note.content"]}, "experiment");
    panel.id = "edit-experiment";
    app.querySelector("h1").after(panel);
  }
}

// Groups of the runs table by a param or tag: a header row per value (collapsible) with its run count and
// best value of the first metric column (by its direction, as `mlx compare`). Child runs stay with their parent.
const collapsedGroups = new Set();
function groupRuns(data, group, keys) {
  const tbody = document.querySelector("#runs tbody");
  if (!tbody) return;
  const [kind, ...rest] = group.split("."), key = rest.join(".");
  const byId = new Map(data.runs.map(r => [r.run_id, r]));
  const valueOf = r => { const v = r && (kind === "params" ? r.params : r.tags)[key]; return v === undefined ? "(none)" : String(v); };
  const metricTh = [...document.querySelectorAll("#runs th.sortable")].find(th => th.dataset.key.startsWith("metrics."));
  const metric = metricTh ? metricTh.dataset.key.slice(8) : null;
  const lower = metric && keys.lower_is_better ? keys.lower_is_better[metric] : false;
  const groups = new Map();
  let cur = null;
  for (const tr of [...tbody.querySelectorAll("tr.run")]) {
    if (!tr.classList.contains("child")) cur = valueOf(byId.get(tr.dataset.run));
    if (!groups.has(cur)) groups.set(cur, []);
    groups.get(cur).push(tr);
  }
  const cols = document.querySelectorAll("#runs thead th").length;
  tbody.innerHTML = "";
  for (const [value, rows] of [...groups.entries()].sort((a, b) => a[0].localeCompare(b[0], undefined, {numeric: true}))) {
    const vals = rows.map(tr => num(byId.get(tr.dataset.run)?.metrics[metric])).filter(isFinite);
    const best = vals.length ? (lower ? Math.min(...vals) : Math.max(...vals)) : null;
    const id = group + "=" + value, shut = collapsedGroups.has(id);
    const head = document.createElement("tr");
    head.className = "group";
    head.dataset.group = value;
    head.innerHTML = `<td colspan="${cols}"><button type="button" class="group-toggle">${shut ? "▸" : "▾"}</button> <b>${esc(group)} = ${esc(value)}</b> <span class="muted">${rows.length} run${rows.length === 1 ? "" : "s"}${best !== null ? ` · best ${esc(metric)} <span class="group-best">${esc(fmt(best))}</span>` : ""}</span></td>`;
    tbody.appendChild(head);
    rows.forEach(tr => { tr.dataset.group = value; tr.classList.toggle("group-hidden", shut); tbody.appendChild(tr); });
    head.querySelector("button").onclick = () => {
      const hide = !collapsedGroups.has(id);
      if (hide) collapsedGroups.add(id); else collapsedGroups.delete(id);
      rows.forEach(tr => tr.classList.toggle("group-hidden", hide));
      head.querySelector("button").textContent = hide ? "▸" : "▾";
    };
  }
}
