// mlx ui: parallel coordinates over a page of runs (SVG, one `polyline.pline` per run). Every run is drawn:
// a run without a value on an axis goes through that axis's "missing" band at the bottom (as HiPlot does), so
// an experiment mixing estimators (C for one, n_estimators for another) still shows all its runs. The axes
// (params and metrics) are the user's choice, kept in the URL as `pcaxes=p:C,m:accuracy`.
"use strict";

let pcAxesOpen = false;

// Every axis the page's runs offer: params first, then metrics, each sorted.
function pcAxisList(runs) {
  const keys = f => [...new Set(runs.flatMap(r => Object.keys(f(r))))].sort();
  return keys(r => r.params).map(k => ({id: "p:" + k, label: "params." + k, get: r => r.params[k]}))
    .concat(keys(r => r.metrics).map(k => ({id: "m:" + k, label: k, get: r => r.metrics[k]})));
}

// The axes shown: the URL's `pcaxes` if set, else the params that vary and one metric (`pc`, else the first
// metric column of the table, else the first metric).
function pcChosen(runs, q, chosenCols) {
  const all = new Set(pcAxisList(runs).map(a => a.id));
  if (q.get("pcaxes") !== null) return q.get("pcaxes").split(",").filter(id => all.has(id));
  const metrics = [...all].filter(id => id.startsWith("m:"));
  const pc = "m:" + (q.get("pc") || "");
  const metric = all.has(pc) ? pc : chosenCols.find(c => c.startsWith("m:") && all.has(c)) || metrics[0];
  return defaultColumns(runs).filter(c => c.startsWith("p:")).concat(metric ? [metric] : []);
}

// The section's HTML: the axes panel (checkboxes) and the plot's box.
function parallelSection(runs, q, chosenCols) {
  const picked = pcChosen(runs, q, chosenCols), axes = pcAxisList(runs);
  const box = a => `<label><input type="checkbox" data-axis="${esc(a.id)}" ${picked.includes(a.id) ? "checked" : ""}> ${esc(a.id.slice(2))}</label>`;
  return `<h2>Parallel coordinates</h2><details class="axes-panel" id="pc-axes" ${pcAxesOpen ? "open" : ""}><summary>Axes (${picked.length})</summary>` +
    `<div><b>params</b> ${axes.filter(a => a.id.startsWith("p:")).map(box).join("")}</div>` +
    `<div><b>metrics</b> ${axes.filter(a => a.id.startsWith("m:")).map(box).join("")}</div></details><div class="card" id="parallel"></div>`;
}

// Draw the plot and wire the panel: a tick or untick goes into the URL (`nav` sets query keys).
function parallelWire(runs, q, chosenCols, nav) {
  const el = document.getElementById("parallel");
  if (!el) return;
  const picked = pcChosen(runs, q, chosenCols), byId = new Map(pcAxisList(runs).map(a => [a.id, a]));
  parallelPlot(el, runs, picked.map(id => byId.get(id)));
  const panel = document.getElementById("pc-axes");
  panel.ontoggle = () => { pcAxesOpen = panel.open; };
  panel.querySelectorAll("input[data-axis]").forEach(cb => cb.onchange = () => {
    const now = picked.filter(id => id !== cb.dataset.axis).concat(cb.checked ? [cb.dataset.axis] : []);
    nav({pcaxes: now.join(",") || ","});
  });
}

// One axis's scale: numeric (low to high) or categorical (sorted), over [top, bottom]; null for a missing value.
function pcScale(axis, runs, top, bottom) {
  const present = v => v !== undefined && v !== null && v !== "";
  const vals = runs.map(axis.get).filter(present);
  const numeric = vals.length > 0 && vals.every(v => isFinite(num(v)) || isFinite(Number(v)));
  if (numeric) {
    const val = v => (typeof v === "number" ? v : Number(v));
    const ns = vals.map(val).filter(isFinite), lo = Math.min(...ns), hi = Math.max(...ns);
    const y = v => (!present(v) || !isFinite(val(v)) ? null : bottom - (hi > lo ? (val(v) - lo) / (hi - lo) : 0.5) * (bottom - top));
    return {ticks: ns.length ? (hi > lo ? [lo, hi] : [lo]).map(v => [v, fmt(v)]) : [], y};
  }
  const cats = [...new Set(vals.map(String))].sort();
  const y = v => { const i = present(v) ? cats.indexOf(String(v)) : -1; return i < 0 ? null : bottom - (cats.length > 1 ? i / (cats.length - 1) : 0.5) * (bottom - top); };
  return {ticks: cats.map(c => [c, c]), y};
}

// One vertical axis per chosen param or metric, one line per run in its colour, drawn at the box's pixel
// size so nothing stretches. runs: [{run_id, run_name, color, params, metrics}].
function parallelPlot(el, runs, axes) {
  if (axes.length < 2) { el.innerHTML = '<p class="muted" id="pc-message">choose two axes or more (params and metrics) above</p>'; return; }
  // The box's content width (the card's padding excluded), so the last axis's labels are not cut.
  const cs = getComputedStyle(el), W = Math.max(240, Math.floor(el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)));
  const H = 320, T = 24, B = 34, L = 40, R = 60, MISS = H - B - 8, bottom = H - B - 30;
  const scales = axes.map(a => pcScale(a, runs, T, bottom));
  const x = i => L + i * (W - L - R) / (axes.length - 1);
  const room = Math.max(4, Math.floor((W - L - R) / (axes.length - 1) / 6.5));
  const short = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);
  let out = `<svg class="parallel" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`;
  axes.forEach((a, i) => {
    out += `<line class="axis" x1="${x(i)}" y1="${T}" x2="${x(i)}" y2="${H - B}"/>`;
    out += `<text x="${x(i)}" y="${H - B + 16}" text-anchor="middle" class="axis-label"><title>${esc(a.label)}</title>${esc(short(a.label, room))}</text>`;
    scales[i].ticks.forEach(([v, label]) => { out += `<text x="${x(i) + 4}" y="${scales[i].y(v) - 3}" class="tick">${esc(short(String(label), Math.min(14, room)))}</text>`; });
    if (runs.some(r => scales[i].y(a.get(r)) === null)) {
      out += `<line class="missing" x1="${x(i) - 5}" y1="${MISS}" x2="${x(i) + 5}" y2="${MISS}"/><text x="${x(i) + 4}" y="${MISS - 4}" class="tick missing-label">missing</text>`;
    }
  });
  runs.forEach(r => {
    const ys = axes.map((a, i) => scales[i].y(a.get(r)));
    const pts = ys.map((y, i) => x(i).toFixed(1) + "," + (y === null ? MISS : y).toFixed(1)).join(" ");
    const title = axes.map(a => `${a.label} = ${a.get(r) === undefined ? "(missing)" : fmt(a.get(r))}`).join("\n");
    out += `<polyline class="pline" data-run="${esc(r.run_id)}" data-missing="${ys.filter(y => y === null).length}" fill="none" stroke="${r.color}" stroke-width="2" points="${pts}"><title>${esc(r.run_name || r.run_id)}\n${esc(title)}</title></polyline>`;
  });
  el.innerHTML = out + "</svg>";
}
