// The service's page: paste text or upload a file, see its entities
// (highlighted by type, scores and concepts on hover, concepts linked to
// their vocabulary's page) and relations, download the answer in the
// tagger's formats. Everything comes from this service: no CDN.
"use strict";

const EXTENSIONS = {bioc_json: ".bioc.json", pubtator: ".pubtator", jsonl: ".jsonl"};
// The public page of a concept ID, by its prefix.
const VOCABULARIES = [
  [/^MESH:(.+)$/i, id => "https://meshb.nlm.nih.gov/record/ui?ui=" + id],
  [/^OMIM:(.+)$/i, id => "https://omim.org/entry/" + id],
  [/^(?:NCBIGene|Gene|EntrezGene):(.+)$/i, id => "https://www.ncbi.nlm.nih.gov/gene/" + id],
  [/^(?:NCBITaxon|Taxonomy):(.+)$/i,
   id => "https://www.ncbi.nlm.nih.gov/Taxonomy/Browser/wwwtax.cgi?id=" + id],
  [/^(CHEBI:.+)$/i, id => "https://www.ebi.ac.uk/chebi/searchId.do?chebiId=" + id],
  [/^(CVCL_.+)$/i, id => "https://www.cellosaurus.org/" + id],
];
const PALETTE = ["#ffd28a", "#a8d8ff", "#c3f0b4", "#f7b3c8", "#d7c4ff", "#ffe98a",
                 "#b4ece6", "#ffc2a8"];

let last = null;  // the last request: {path, body, name}
const types = new Map();  // entity type -> colour

const $ = id => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function conceptUrl(id) {
  for (const [pattern, url] of VOCABULARIES) {
    const m = pattern.exec(id);
    if (m) return url(encodeURIComponent(m[1]).replace("%3A", ":"));
  }
  return null;
}

function colour(type) {
  if (!types.has(type)) types.set(type, PALETTE[types.size % PALETTE.length]);
  return types.get(type);
}

function setStatus(message, isError) {
  $("status").textContent = message;
  $("status").className = isError ? "error" : "";
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const key = $("apikey").value;
  if (key) h["X-API-Key"] = key;
  return h;
}

async function post(path, body, contentType) {
  const response = await fetch(path, {method: "POST", body: body,
                                      headers: headers({"Content-Type": contentType})});
  if (response.status === 401) $("key-row").hidden = false;
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function hover(a) {
  let text = a.type + " · score " + a.score + " · offset " + a.offset + "-" +
             (a.offset + a.length) + " · " + a.model;
  if (a.concept) text += "\n" + a.concept.ids.join(", ") + " " + a.concept.name +
                         " (concept score " + a.concept.score + ")";
  else if ("concept" in a) text += "\nno concept above the threshold";
  return text;
}

function conceptCell(a) {
  if (!a.concept) return "concept" in a ? "(none)" : "";
  const cell = el("span");
  a.concept.ids.forEach((id, k) => {
    if (k) cell.append(", ");
    const url = conceptUrl(id);
    cell.append(url ? el("a", {href: url, target: "_blank", rel: "noopener"}, id) : id);
  });
  cell.append(" " + a.concept.name);
  return cell;
}

// One passage's text with its entities highlighted: those that overlap
// an entity already shown are listed in the table only.
function passageText(passage, annotations) {
  const p = el("p");
  const end = passage.offset + passage.text.length;
  const inside = annotations
    .filter(a => a.offset >= passage.offset && a.offset + a.length <= end)
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  let at = passage.offset;
  for (const a of inside) {
    if (a.offset < at) continue;  // overlaps the one before
    p.append(passage.text.slice(at - passage.offset, a.offset - passage.offset));
    const text = passage.text.slice(a.offset - passage.offset,
                                    a.offset - passage.offset + a.length);
    const url = a.concept ? conceptUrl(a.concept.id) : null;
    p.append(el("mark", {class: "entity", title: hover(a), style: "--colour: " + colour(a.type),
                         dataset: {id: a.id, type: a.type, offset: a.offset, length: a.length}},
                url ? el("a", {href: url, target: "_blank", rel: "noopener"}, text) : text));
    at = a.offset + a.length;
  }
  p.append(passage.text.slice(at - passage.offset));
  return p;
}

function table(head, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...head.map(h => el("th", {}, h)))),
            el("tbody", {}, ...rows));
}

function renderDocument(doc) {
  const node = el("article", {class: "document", dataset: {id: doc.id}},
                  el("h2", {}, "Document " + doc.id));
  doc.passages.forEach((passage, k) => {
    node.append(el("div", {class: "passage"}, el("h3", {}, passage.type || "text"),
                   passageText(passage, doc.annotations.filter(a => a.passage === k))));
  });
  const byId = new Map(doc.annotations.map(a => [a.id, a]));
  node.append(el("h3", {}, doc.annotations.length + (doc.annotations.length === 1 ? " entity" : " entities")));
  node.append(table(["id", "type", "text", "offset", "score", "concept", "model"],
    doc.annotations.map(a => el("tr", {class: "entity-row"}, el("td", {}, a.id),
      el("td", {}, el("span", {class: "swatch", style: "--colour: " + colour(a.type)}, a.type)),
      el("td", {}, a.text), el("td", {class: "number"}, String(a.offset)),
      el("td", {class: "number"}, String(a.score)), el("td", {}, conceptCell(a)),
      el("td", {}, a.model)))));
  node.append(el("h3", {}, doc.relations.length + (doc.relations.length === 1 ? " relation" : " relations")));
  if (doc.relations.length) {
    const arg = id => byId.has(id) ? byId.get(id).text + " (" + id + ")" : id;
    node.append(table(["id", "type", "first", "second", "score"],
      doc.relations.map(r => el("tr", {class: "relation-row"}, el("td", {}, r.id),
        el("td", {}, r.type), el("td", {}, arg(r.arg1)), el("td", {}, arg(r.arg2)),
        el("td", {class: "number"}, String(r.score))))));
  }
  return node;
}

function render(answer) {
  types.clear();
  const docs = answer.documents;
  $("documents").replaceChildren(...docs.map(renderDocument));
  $("legend").replaceChildren(...[...types].map(
    ([type, c]) => el("span", {class: "swatch", style: "--colour: " + c}, type)));
  const skipped = answer.skipped || [];
  $("skipped").hidden = !skipped.length;
  $("skipped").replaceChildren(...skipped.map(
    s => el("div", {}, "skipped " + s.where + ": " + s.problem)));
  $("result").hidden = false;
  const entities = docs.reduce((n, d) => n + d.annotations.length, 0);
  setStatus(docs.length + " document" + (docs.length === 1 ? "" : "s") + ", " + entities +
            " entities" + (skipped.length ? ", " + skipped.length + " records skipped" : ""));
}

async function run(request) {
  setStatus("tagging…");
  $("result").setAttribute("aria-busy", "true");
  try {
    const response = await post(request.path, request.body, request.type);
    render(await response.json());
    last = request;
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    $("result").removeAttribute("aria-busy");
  }
}

async function download(format) {
  if (!last) return;
  setStatus("preparing " + format + "…");
  try {
    const sep = last.path.includes("?") ? "&" : "?";
    const response = await post(last.path + sep + "format=" + format, last.body, last.type);
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", {href: url, download: last.name + EXTENSIONS[format]});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    setStatus("downloaded " + last.name + EXTENSIONS[format]);
  } catch (e) {
    setStatus(e.message, true);
  }
}

$("annotate").addEventListener("click", () => {
  const text = $("text").value;
  if (!text.trim()) { setStatus("paste some text first", true); return; }
  run({path: "/annotate", body: JSON.stringify({text: text}), type: "application/json",
       name: "annotations"});
});

$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  if (!file) return;
  const name = file.name.replace(/(\.gz)?$/, "").replace(/\.[^.]*$/, "") || "annotations";
  run({path: "/annotate/file?filename=" + encodeURIComponent(file.name),
       body: await file.arrayBuffer(), type: "application/octet-stream", name: name});
  $("file").value = "";
});

for (const button of document.querySelectorAll("#downloads button")) {
  button.addEventListener("click", () => download(button.dataset.format));
}

fetch("/health").then(r => r.json()).then(health => {
  const m = health.models || {};
  const parts = (m.models || []).map(x => x.name || x);
  if (m.re_model) parts.push("relations");
  for (const n of m.normalizers || []) parts.push(n.type + " concepts");
  $("models").textContent = "Models: " + (parts.join(", ") || "none");
}).catch(() => setStatus("the service does not answer", true));
