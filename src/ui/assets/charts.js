// mlx ui: the runs list's chart view (`view=charts`), as MLflow's run list chart mode: one chart per metric
// over the runs the list shows (its filter, order and page), a history line per run for a metric logged at
// more than one step, else one bar per run. Histories come from /api/compare, 20 runs a request.
"use strict";

// runs: [{run_id, name, color, metrics}]. Resolves once every chart is drawn.
async function runCharts(el, runs) {
  const chunks = [];
  for (let i = 0; i < runs.length; i += 20) chunks.push(runs.slice(i, i + 20));
  const answers = await Promise.all(chunks.map(c => api("/api/compare?runs=" + encodeURIComponent(c.map(r => r.run_id).join(",")))));
  if (!el.isConnected) return;
  const hist = {};
  answers.forEach(a => Object.entries(a.histories).forEach(([k, per]) => Object.assign(hist[k] = hist[k] || {}, per)));
  const keys = Object.keys(hist).sort();
  if (!keys.length) { el.innerHTML = '<p class="muted">these runs have no metrics</p>'; return; }
  el.innerHTML = keys.map(k => `<div class="card"><h3 class="cut" title="${esc(k)}">${esc(k)}</h3><div class="run-chart" data-metric="${esc(k)}"></div></div>`).join("");
  keys.forEach(k => {
    const have = runs.filter(r => hist[k][r.run_id]);
    const box = el.querySelector(`[data-metric="${CSS.escape(k)}"]`);
    box.dataset.series = String(have.length);
    if (have.some(r => hist[k][r.run_id].length > 1)) {
      box.dataset.kind = "history";
      historyChart(box, have.map(r => ({name: r.name, color: r.color, hist: hist[k][r.run_id]})));
    } else {
      box.dataset.kind = "bars";
      barChart(box, have, have.map(r => num(r.metrics[k])));
    }
  });
}
