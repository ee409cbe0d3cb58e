// mlx ui: a run's artifacts as a tree. Each file with its size, a download link and "copy path" (its
// runs:/ URI); folders with more than a handful of files start collapsed. Previews (PNG/JPEG/GIF, JSON and
// text, CSV as a table) load when their folder is open, small files by themselves, large ones on a click.
"use strict";

const HANDFUL = 5;
const AUTO_PREVIEW = {image: 2e6, text: 100e3};
const TEXT_LIMIT = 200e3;

function humanSize(n) {
  if (n === undefined || n === null) return "";
  if (n < 1024) return n + " B";
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
}

function previewKind(path) {
  if (/\.(png|jpe?g|gif)$/i.test(path)) return "image";
  if (/\.csv$/i.test(path)) return "csv";
  if (/\.(txt|json|ya?ml|md|log|toml|py|cfg|ini)$/i.test(path) || /(^|\/)(MLmodel|MLproject|requirements\.txt|conda\.yaml)$/.test(path)) return "text";
  return null;
}

// CSV rows (quoted fields, doubled quotes), at most `max` rows.
function parseCsv(text, max) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length && rows.length < max; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if ((field || row.length) && rows.length < max) { row.push(field); rows.push(row); }
  return rows;
}

async function showPreview(li) {
  if (li.dataset.previewed) return;
  li.dataset.previewed = "1";
  const box = li.querySelector(".preview"), url = li.querySelector("a.download").getAttribute("href"), path = li.dataset.path;
  const kind = previewKind(path);
  if (kind === "image") { box.innerHTML = `<img class="artifact" alt="${esc(path)}" src="${url}">`; return; }
  box.innerHTML = '<p class="muted">loading…</p>';
  try {
    const r = await fetch(url);
    if (!r.ok) throw new Error("HTTP " + r.status);
    let text = await r.text();
    const cut = text.length > TEXT_LIMIT;
    if (cut) text = text.slice(0, TEXT_LIMIT);
    if (kind === "csv") {
      const rows = parseCsv(text, 101);
      const [head, ...body] = rows;
      box.innerHTML = wrap(`<table class="csv"><thead><tr>${(head || []).map(h => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>` +
        body.slice(0, 100).map(r => `<tr>${r.map(v => `<td>${esc(v)}</td>`).join("")}</tr>`).join("") + "</tbody></table>") +
        (body.length > 100 || cut ? '<p class="muted">the first 100 rows</p>' : "");
      return;
    }
    if (/\.json$/i.test(path) && !cut) { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* shown as it is */ } }
    box.innerHTML = "";
    const pre = document.createElement("pre");
    pre.className = "artifact";
    pre.textContent = text + (cut ? "\n…" : "");
    box.appendChild(pre);
  } catch (e) { box.innerHTML = `<div class="error">${esc(e.message)}</div>`; }
}

// Show the previews of the files directly in an open folder that are small enough to load by themselves.
function autoPreviews(ul) {
  ul.querySelectorAll(":scope > li.file").forEach(li => {
    const kind = previewKind(li.dataset.path), size = Number(li.dataset.size);
    if (kind && size <= AUTO_PREVIEW[kind === "image" ? "image" : "text"]) showPreview(li);
  });
}

async function copyPath(button) {
  const text = button.dataset.uri;
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    // No clipboard permission (an http:// origin other than localhost, a headless browser): select it.
    const input = document.createElement("input");
    input.value = text;
    button.after(input);
    input.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (e2) { /* left selected for the user to copy */ }
    if (copied) input.remove();
  }
  button.dataset.copied = text;
  button.textContent = "copied";
}

function artifactTree(box, runId, files) {
  if (!files.length) { box.innerHTML = '<p class="muted">none</p>'; return; }
  const root = {dirs: new Map(), files: [], count: 0};
  for (const f of files) {
    const parts = f.path.split("/");
    let node = root;
    node.count++;
    for (const p of parts.slice(0, -1)) {
      if (!node.dirs.has(p)) node.dirs.set(p, {dirs: new Map(), files: [], count: 0, size: 0});
      node = node.dirs.get(p);
      node.count++;
      node.size += f.file_size || 0;
    }
    node.files.push({name: parts[parts.length - 1], f});
  }
  const render = (node, prefix) => {
    let html = '<ul class="tree">';
    for (const [name, d] of [...node.dirs.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      html += `<li class="dir" data-path="${esc(prefix + name)}"><details ${d.count <= HANDFUL ? "open" : ""}><summary><b>${esc(name)}/</b> <span class="muted">${d.count} file${d.count === 1 ? "" : "s"}, ${humanSize(d.size)}</span></summary>${render(d, prefix + name + "/")}</details></li>`;
    }
    for (const {name, f} of node.files.sort((a, b) => a.name.localeCompare(b.name))) {
      const url = `/api/runs/${encodeURIComponent(runId)}/artifact?path=${encodeURIComponent(f.path)}`;
      const kind = previewKind(f.path), big = kind && (f.file_size || 0) > AUTO_PREVIEW[kind === "image" ? "image" : "text"];
      html += `<li class="file" data-path="${esc(f.path)}" data-size="${esc(f.file_size ?? 0)}"><span class="fname" title="${esc(f.path)}">${esc(name)}</span>
        <span class="size muted" title="${esc(f.file_size ?? "")} bytes">${humanSize(f.file_size)}</span>
        <a class="download" href="${url}" download="${esc(name)}">download</a>
        <button type="button" class="copy-path" data-uri="${esc(`runs:/${runId}/${f.path}`)}" title="copy runs:/${esc(runId)}/${esc(f.path)}">copy path</button>
        ${big ? `<button type="button" class="show-preview">preview (${humanSize(f.file_size)})</button>` : ""}<div class="preview"></div></li>`;
    }
    return html + "</ul>";
  };
  box.innerHTML = render(root, "");
  box.querySelectorAll("button.copy-path").forEach(b => b.onclick = () => copyPath(b));
  box.querySelectorAll("li.file").forEach(li => { const b = li.querySelector("button.show-preview"); if (b) b.onclick = () => { b.remove(); showPreview(li); }; });
  autoPreviews(box.querySelector("ul.tree"));
  box.querySelectorAll("li.dir > details").forEach(d => {
    if (d.open) autoPreviews(d.querySelector(":scope > ul.tree"));
    d.addEventListener("toggle", () => { if (d.open) autoPreviews(d.querySelector(":scope > ul.tree")); });
  });
}
