// The explorer page: search, the lineage drawing, its controls, the details panel, column
// tracing and exports. Every view setting lives in the URL's query string, so a view can be
// shared by link and the browser's back button steps back through views.

import { ApiError, getJson, onTokenNeeded } from "./api.js";
import { View, el, fit, note, render } from "./draw.js";
import { exportPng, exportSvg, exportText } from "./export.js";

const DEFAULTS = { direction: "both", depth: 3, maxNodes: 500 };
const LISTS = ["expand", "operations"];

const $ = (selector) => document.querySelector(selector);
const svg = $("#graph");
const view = new View(svg);
const status = $("#status");
const panel = $("#panel");

/** The current view, as the URL says it. */
let state = readUrl();
/** The last layout drawn, and its node groups by key. */
let current = null;
let drawn = new Map();
let loading = 0;

function readUrl() {
  const q = new URLSearchParams(window.location.search);
  const list = (name) => (q.get(name) || "").split(",").filter(Boolean);
  return {
    node: q.get("node") || "",
    direction: q.get("direction") || DEFAULTS.direction,
    depth: Number(q.get("depth") || DEFAULTS.depth),
    maxNodes: Number(q.get("maxNodes") || DEFAULTS.maxNodes),
    collapseJobs: q.get("collapseJobs") === "true",
    asOf: q.get("asOf") || "",
    expand: list("expand"),
    operations: list("operations"),
    selected: q.get("selected") || "",
    trace: q.get("trace") || "",
    table: q.get("view") === "table",
  };
}

function writeUrl(push = true) {
  const q = new URLSearchParams();
  if (state.node) q.set("node", state.node);
  q.set("direction", state.direction);
  q.set("depth", state.depth);
  q.set("maxNodes", state.maxNodes);
  if (state.collapseJobs) q.set("collapseJobs", "true");
  if (state.asOf) q.set("asOf", state.asOf);
  for (const name of LISTS) if (state[name].length) q.set(name, state[name].join(","));
  if (state.selected) q.set("selected", state.selected);
  if (state.trace) q.set("trace", state.trace);
  if (state.table) q.set("view", "table");
  const url = `${window.location.pathname}?${q}`;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}

/** The lineage parameters of the current view (for layout and for exports). */
function lineageParams() {
  return {
    node: state.node,
    direction: state.direction,
    depth: state.depth,
    maxNodes: state.maxNodes,
    collapseJobs: state.collapseJobs ? "true" : "",
    asOf: state.asOf,
    expand: state.expand.join(","),
    operations: state.operations.join(","),
  };
}

function say(text, kind = "") {
  status.className = `status ${kind}`;
  status.replaceChildren(text);
}

// ---- Controls ----

const controls = $("#controls");

/** `2026-11-01T10:00:00Z` as the local time a datetime-local input shows, and back. */
function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

function fromLocalInput(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString().replace(".000Z", "Z");
}

function showControls() {
  controls.direction.value = state.direction;
  controls.depth.value = state.depth;
  controls.maxNodes.value = state.maxNodes;
  controls.collapseJobs.checked = state.collapseJobs;
  controls.asOf.value = toLocalInput(state.asOf);
  $("#show-graph").setAttribute("aria-pressed", String(!state.table));
  $("#show-table").setAttribute("aria-pressed", String(state.table));
  $("#table-view").hidden = !state.table;
  svg.classList.toggle("hidden", state.table);
}

controls.addEventListener("change", () => {
  state.direction = controls.direction.value;
  state.depth = Number(controls.depth.value) || 0;
  state.maxNodes = Number(controls.maxNodes.value) || DEFAULTS.maxNodes;
  state.collapseJobs = controls.collapseJobs.checked;
  state.asOf = fromLocalInput(controls.asOf.value);
  writeUrl();
  load();
});
controls.addEventListener("submit", (e) => e.preventDefault());

function showAs(table) {
  state.table = table;
  writeUrl(false);
  showControls();
  if (!table) view.fit();
}
$("#show-graph").addEventListener("click", () => showAs(false));
$("#show-table").addEventListener("click", () => showAs(true));
$("#zoom-in").addEventListener("click", () => view.zoom(1.25));
$("#zoom-out").addEventListener("click", () => view.zoom(1 / 1.25));
$("#zoom-fit").addEventListener("click", () => view.fit());

// ---- Search: a combobox over the nodes API ----

const search = $("#search");
const results = $("#results");
let searchTimer = null;
let searchSeq = 0;
let active = -1;

function options() {
  return [...results.querySelectorAll("[role=option]")];
}

function closeResults() {
  results.hidden = true;
  search.setAttribute("aria-expanded", "false");
  search.removeAttribute("aria-activedescendant");
  active = -1;
}

function highlightOption(index) {
  const all = options();
  if (!all.length) return;
  active = (index + all.length) % all.length;
  all.forEach((o, i) => o.setAttribute("aria-selected", String(i === active)));
  search.setAttribute("aria-activedescendant", all[active].id);
  all[active].scrollIntoView({ block: "nearest" });
}

async function runSearch() {
  const q = search.value.trim();
  const seq = ++searchSeq;
  if (!q) return closeResults();
  try {
    const [datasets, jobs] = await Promise.all(
      ["dataset", "job"].map((kind) => getJson("/api/v1/graph/nodes", { kind, q, limit: 10 })),
    );
    if (seq !== searchSeq) return;
    showResults([...datasets.items, ...jobs.items]);
  } catch (error) {
    if (seq === searchSeq) failed(error);
  }
}

function showResults(items) {
  results.replaceChildren();
  items.forEach((node, i) => {
    const li = document.createElement("li");
    li.id = `result-${i}`;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", "false");
    li.dataset.key = node.key;
    const kind = document.createElement("span");
    kind.className = `kind kind-${node.kind}`;
    kind.textContent = node.kind;
    const name = document.createElement("span");
    name.textContent = node.name;
    const key = document.createElement("span");
    key.className = "key";
    key.textContent = node.key;
    li.append(kind, name, key);
    results.appendChild(li);
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "No dataset or job matches";
    results.appendChild(li);
  }
  results.hidden = false;
  search.setAttribute("aria-expanded", "true");
  active = -1;
}

search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 150);
});
search.addEventListener("keydown", (e) => {
  if (e.key === "ArrowDown") highlightOption(active + 1);
  else if (e.key === "ArrowUp") highlightOption(active - 1);
  else if (e.key === "Escape") closeResults();
  else if (e.key === "Enter") {
    const chosen = options()[active] || options()[0];
    if (chosen) openNode(chosen.dataset.key);
  } else return;
  e.preventDefault();
});
results.addEventListener("mousedown", (e) => e.preventDefault());
results.addEventListener("click", (e) => {
  const chosen = e.target.closest("[role=option]");
  if (chosen) openNode(chosen.dataset.key);
});
search.addEventListener("blur", () => setTimeout(closeResults, 100));
document.addEventListener("keydown", (e) => {
  if (e.key === "/" && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName)) {
    e.preventDefault();
    search.focus();
  }
});

/** Makes `key` the root of a fresh view. */
function openNode(key) {
  closeResults();
  search.value = "";
  Object.assign(state, { node: key, expand: [], operations: [], selected: key, trace: "" });
  writeUrl();
  load();
}

// ---- The drawing ----

async function load() {
  const seq = ++loading;
  showControls();
  if (!state.node) {
    current = null;
    drawn = new Map();
    emptyPanel();
    renderTable();
    note(svg, "Search for a dataset or job to see its lineage.");
    say("Search for a dataset or job to start.");
    return;
  }
  say("Loading lineage…");
  svg.setAttribute("aria-busy", "true");
  try {
    const layout = await getJson("/api/v1/graph/layout", lineageParams());
    if (seq !== loading) return;
    current = layout;
    state.traced = null;
    svg.classList.remove("tracing");
    drawn = render(svg, layout);
    svg.setAttribute("aria-label", `Lineage graph of ${nameOf(layout.root)}: ${layout.nodes.length} nodes`);
    view.fit({ width: layout.width, height: layout.height });
    renderTable();
    summarise(layout);
    if (state.selected && drawn.has(state.selected)) await select(state.selected, false);
    else emptyPanel();
    if (state.trace) await trace(state.trace, false);
  } catch (error) {
    if (seq === loading) failed(error);
  } finally {
    if (seq === loading) svg.removeAttribute("aria-busy");
  }
}

function nameOf(key) {
  return current?.nodes.find((n) => n.key === key)?.name || key;
}

/** The status line: size, failures, and what was left out. */
function summarise(layout) {
  const count = (kind, word = kind) => {
    const n = layout.nodes.filter((node) => node.kind === kind).length;
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  };
  const failedRuns = layout.nodes.filter((n) => n.lastRun?.state === "FAILED").length;
  const lonely = layout.nodes.length <= 1 && layout.edges.length === 0;
  if (lonely) {
    const where = { upstream: "upstream of", downstream: "downstream of", both: "upstream or downstream of" }[layout.direction];
    const what = state.collapseJobs ? "No datasets" : "Nothing";
    return say(`${what} ${where} ${nameOf(layout.root)}${state.asOf ? ` as of ${state.asOf}` : ""}.`);
  }
  const operations = layout.nodes.some((n) => n.kind === "operation") ? `, ${count("operation")}` : "";
  const parts = [`${count("dataset")}, ${count("job")}${operations}, ${layout.edges.length} edges`];
  if (failedRuns) parts.push(`${failedRuns} job${failedRuns > 1 ? "s" : ""} whose last run failed`);
  if (state.asOf) parts.push(`as of ${state.asOf}`);
  if (layout.truncated) {
    parts.push(`graph cut at ${layout.nodes.length} nodes (depth ${layout.depthRequested}, at most ${state.maxNodes} nodes): expand a node marked + to see more`);
    return say(`${parts.join("; ")}.`, "warning");
  }
  say(`${parts.join("; ")}.`);
}

function failed(error) {
  svg.removeAttribute("aria-busy");
  if (error instanceof ApiError && error.status === 401) {
    note(svg, "This Headwater needs a token to show lineage.");
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Enter token";
    retry.addEventListener("click", async () => {
      const entered = await askForToken("Enter a token to see lineage.");
      if (entered) {
        sessionStorage.setItem("headwater.token", entered);
        load();
      }
    });
    status.className = "status error";
    status.replaceChildren("Not signed in: the API answered 401.", retry);
    return;
  }
  if (error instanceof ApiError && error.status === 403) {
    return say(`Not allowed: ${error.message}`, "error");
  }
  if (error instanceof ApiError && error.status === 404) {
    note(svg, "Nothing to show.");
    return say(`Not found: ${error.message}`, "error");
  }
  say(`Error: ${error.message}`, "error");
}

function nodeEvent(event) {
  const grow = event.target.closest("[data-grow]");
  if (grow) return growFrom(grow.dataset.grow);
  const close = event.target.closest("[data-close-group]");
  if (close) return toggleOperations(close.dataset.closeGroup, false);
  const node = event.target.closest(".node");
  if (node) select(node.dataset.key);
}

svg.addEventListener("click", nodeEvent);
svg.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    nodeEvent(event);
  }
});

function growFrom(key) {
  if (!state.expand.includes(key)) state.expand.push(key);
  writeUrl();
  load();
}

function toggleOperations(job, open) {
  state.operations = state.operations.filter((k) => k !== job);
  if (open) state.operations.push(job);
  writeUrl();
  load();
}

// ---- The table: the graph as text ----

function renderTable() {
  const body = $("#node-table tbody");
  body.replaceChildren();
  if (!current) return;
  const names = new Map(current.nodes.map((n) => [n.key, n.name]));
  const into = new Map();
  const out = new Map();
  for (const e of current.edges) {
    if (!into.has(e.target)) into.set(e.target, []);
    if (!out.has(e.source)) out.set(e.source, []);
    into.get(e.target).push(names.get(e.source));
    out.get(e.source).push(names.get(e.target));
  }
  const ordered = [...current.nodes].sort((a, b) => a.layer - b.layer || a.y - b.y);
  for (const n of ordered) {
    const row = document.createElement("tr");
    row.tabIndex = 0;
    row.dataset.key = n.key;
    if (n.key === state.selected) row.classList.add("selected");
    const run = n.lastRun ? n.lastRun.state : "";
    const cells = [n.name, n.kind, n.namespace || "", String(n.layer), run,
      (into.get(n.key) || []).join(", "), (out.get(n.key) || []).join(", ")];
    cells.forEach((text, i) => {
      const cell = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) cell.scope = "row";
      if (i === 4 && run === "FAILED") cell.className = "failed";
      cell.textContent = text;
      row.appendChild(cell);
    });
    body.appendChild(row);
  }
}

const table = $("#node-table");
table.addEventListener("click", (e) => {
  const row = e.target.closest("tbody tr");
  if (row) select(row.dataset.key);
});
table.addEventListener("keydown", (e) => {
  const row = e.target.closest("tbody tr");
  if (!row) return;
  if (e.key === "Enter" || e.key === " ") select(row.dataset.key);
  else if (e.key === "ArrowDown") row.nextElementSibling?.focus();
  else if (e.key === "ArrowUp") row.previousElementSibling?.focus();
  else return;
  e.preventDefault();
});

// ---- The details panel ----

function emptyPanel() {
  panel.replaceChildren(element("p", current
    ? "Select a node (click it, or Tab to it and press Enter) to see its properties, columns and runs."
    : "Details of the node you select appear here."));
}

function element(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function button(text, onClick, pressed) {
  const b = element("button", text);
  b.type = "button";
  if (pressed !== undefined) {
    b.setAttribute("aria-pressed", String(pressed));
    if (pressed) b.classList.add("active");
  }
  b.addEventListener("click", onClick);
  return b;
}

function facts(pairs) {
  const dl = element("dl");
  for (const [term, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(element("dt", term), element("dd", String(value)));
  }
  return dl;
}

/** Shows a node's details: properties, columns, runs, owners; and what can be done with it. */
async function select(key, remember = true) {
  state.selected = key;
  if (remember) writeUrl(false);
  for (const g of drawn.values()) g.classList.toggle("selected", g.dataset.key === key);
  for (const row of document.querySelectorAll("#node-table tbody tr")) row.classList.toggle("selected", row.dataset.key === key);
  panel.replaceChildren(element("p", "Loading…"));
  try {
    const details = await getJson("/api/v1/graph/node", { key });
    if (state.selected === key) showDetails(details);
  } catch (error) {
    panel.replaceChildren(element("p", `Could not load ${key}: ${error.message}`, "failed"));
  }
}

function showDetails(details) {
  const node = details.node;
  const laid = current?.nodes.find((n) => n.key === node.key);
  const props = node.properties || {};
  const parts = [element("span", node.kind, `kind kind-${node.kind}`), element("h2", node.name)];
  parts.push(facts([
    ["Key", node.key],
    ["Namespace", props.namespace],
    ["First seen", node.firstSeen],
    ["Last seen", node.lastSeen],
    ["Description", props.facets?.documentation?.description],
  ]));
  parts.push(actions(node, details));
  if (laid?.lastRun || node.kind === "job") parts.push(...runs(laid, details));
  if (node.kind === "dataset") parts.push(...columns(node, details));
  const owners = props.facets?.ownership?.owners;
  if (Array.isArray(owners) && owners.length) {
    parts.push(element("h3", "Owners"));
    const ul = element("ul");
    for (const o of owners) ul.appendChild(element("li", o.type ? `${o.name} (${o.type})` : o.name));
    parts.push(ul);
  }
  if (state.trace && state.traced) parts.push(...traceSection());
  const raw = element("details");
  raw.append(element("summary", "Raw payload"));
  const link = element("a", "Node as JSON");
  link.href = `/api/v1/graph/node?key=${encodeURIComponent(node.key)}`;
  link.target = "_blank";
  link.rel = "noopener";
  raw.append(link, element("pre", JSON.stringify(node, null, 2)));
  parts.push(raw);
  panel.replaceChildren(...parts);
}

function actions(node, details) {
  const row = element("div", undefined, "actions");
  if (node.key !== state.node) row.appendChild(button("Open as root", () => openNode(node.key)));
  if (drawn.has(node.key)) row.appendChild(button("Expand one hop", () => growFrom(node.key)));
  const hasOperations = details.edges.some((e) => e.kind === "has_operation" && e.source === node.key);
  if (node.kind === "job" && hasOperations) {
    const open = state.operations.includes(node.key);
    row.appendChild(button(open ? "Hide operations" : "Show operations", () => toggleOperations(node.key, !open), open));
  }
  return row;
}

function runState(run) {
  const p = run.properties || {};
  return p.state || (p.status === "failed" ? "FAILED" : p.status ? "COMPLETED" : "");
}

function runs(laid, details) {
  const out = [element("h3", "Runs")];
  if (laid?.lastRun) {
    const failed = laid.lastRun.state === "FAILED";
    out.push(element("p", `Last run ${laid.lastRun.state.toLowerCase()} at ${laid.lastRun.at}`, failed ? "failed" : ""));
  }
  const list = details.neighbours
    .filter((n) => n.kind === "run")
    .sort((a, b) => b.lastSeen.localeCompare(a.lastSeen))
    .slice(0, 10);
  if (!list.length) {
    out.push(element("p", "No runs recorded."));
    return out;
  }
  const ul = element("ul");
  for (const run of list) {
    const s = runState(run);
    ul.appendChild(element("li", `${run.lastSeen} ${s}`.trim(), s === "FAILED" || s === "FAIL" ? "failed" : ""));
  }
  out.push(ul);
  return out;
}

/** A dataset's columns: its `has_field` neighbours in schema order, or its schema facet. */
function columns(node, details) {
  const index = new Map(details.edges.filter((e) => e.kind === "has_field").map((e) => [e.target, e.properties?.index ?? 1e9]));
  const fields = details.neighbours
    .filter((n) => n.kind === "field" && index.has(n.key))
    .sort((a, b) => index.get(a.key) - index.get(b.key) || a.name.localeCompare(b.name));
  const out = [element("h3", `Columns (${fields.length})`)];
  if (!fields.length) {
    out.push(element("p", "No columns recorded."));
    return out;
  }
  const ul = element("ul", undefined, "columns");
  for (const field of fields) {
    const li = element("li");
    const type = field.properties?.type || field.properties?.dataType || "";
    li.appendChild(element("span", type ? `${field.name} : ${type}` : field.name));
    const tracing = state.trace === field.key;
    li.appendChild(button(tracing ? "Tracing" : "Trace", () => {
      state.trace = tracing ? "" : field.key;
      writeUrl(false);
      if (tracing) clearTrace();
      else trace(field.key);
    }, tracing));
    li.lastChild.setAttribute("aria-label", `Trace column ${field.name}`);
    li.lastChild.dataset.column = field.name;
    ul.appendChild(li);
  }
  out.push(ul);
  return out;
}

// ---- Column tracing ----

/** `field:<uri>#<column>` as its dataset key and column name. */
function splitField(key) {
  const rest = key.replace(/^field:/, "");
  const cut = rest.lastIndexOf("#");
  return { dataset: `dataset:${rest.slice(0, cut)}`, column: rest.slice(cut + 1) };
}

function clearTrace() {
  state.traced = null;
  svg.classList.remove("tracing");
  for (const t of svg.querySelectorAll(".traced")) t.classList.remove("traced");
  for (const t of svg.querySelectorAll("text.columns")) t.remove();
  if (state.selected) select(state.selected, false);
  if (current) summarise(current);
}

/** Highlights the datasets a column derives from and feeds, and the jobs in between. */
async function trace(fieldKey, refresh = true) {
  const { dataset, column } = splitField(fieldKey);
  let result;
  try {
    result = await getJson("/api/v1/graph/column-lineage", { node: dataset, column, direction: "both", depth: 10, asOf: state.asOf });
  } catch (error) {
    return say(`Could not trace ${column}: ${error.message}`, "error");
  }
  clearMarks();
  const byDataset = new Map();
  for (const c of result.nodes) {
    if (!byDataset.has(c.dataset)) byDataset.set(c.dataset, []);
    byDataset.get(c.dataset).push(c.name);
  }
  const jobs = new Set(result.edges.map((e) => e.properties?.job).filter(Boolean));
  for (const e of current?.edges || []) {
    const job = e.kind === "input" ? e.target : e.kind === "output" ? e.source : null;
    const other = e.kind === "input" ? e.source : e.target;
    if (job && byDataset.has(other) && bothSides(job, byDataset)) jobs.add(job);
  }
  for (const [key, g] of drawn) {
    const names = byDataset.get(key);
    if (!names && !jobs.has(key)) continue;
    g.classList.add("traced");
    if (names) {
      const width = Number(g.querySelector("rect.body").getAttribute("width"));
      el("text", { class: "columns", x: 14, y: -5 }, g).textContent = fit(`▸ ${names.join(", ")}`, width, "600 11px");
    }
  }
  for (const path of svg.querySelectorAll(".edge")) {
    const traced = (k) => drawn.get(k)?.classList.contains("traced");
    path.classList.toggle("traced", traced(path.dataset.source) && traced(path.dataset.target));
  }
  svg.classList.add("tracing");
  state.traced = { column, dataset, result, byDataset };
  const outside = [...byDataset.keys()].filter((k) => !drawn.has(k)).length;
  say(`Column ${column}: ${result.nodes.length} columns in ${byDataset.size} datasets` +
    `${outside ? ` (${outside} outside this view)` : ""}, ${result.edges.length} derivations.`);
  if (refresh && state.selected) select(state.selected, false);
}

function bothSides(job, byDataset) {
  const edges = current?.edges || [];
  const reads = edges.some((e) => e.kind === "input" && e.target === job && byDataset.has(e.source));
  const writes = edges.some((e) => e.kind === "output" && e.source === job && byDataset.has(e.target));
  return reads && writes;
}

function clearMarks() {
  for (const t of svg.querySelectorAll(".traced")) t.classList.remove("traced");
  for (const t of svg.querySelectorAll("text.columns")) t.remove();
}

function traceSection() {
  const { column, dataset, result } = state.traced;
  const out = [element("h3", `Column lineage of ${column}`)];
  out.push(element("p", `${nameOf(dataset)}.${column}: ${result.nodes.length} columns`));
  const names = new Map(result.nodes.map((c) => [c.key, `${nameOf(c.dataset)}.${c.name}`]));
  const ul = element("ul");
  for (const d of result.edges) {
    const how = d.expression || (d.transformations || []).map((t) => t.subtype || t.type).join(", ");
    ul.appendChild(element("li", `${names.get(d.source)} → ${names.get(d.target)}${how ? ` (${how})` : ""}`, "derivation"));
  }
  out.push(ul);
  return out;
}

// ---- Exports ----

document.querySelectorAll("[data-export]").forEach((b) => b.addEventListener("click", async () => {
  if (!current) return say("Nothing to export yet: open a dataset or job first.", "warning");
  const name = `lineage-${nameOf(current.root).replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60)}`;
  const extent = { width: current.width, height: current.height };
  const title = `Lineage of ${current.root}`;
  try {
    const format = b.dataset.export;
    if (format === "svg") exportSvg(svg, extent, title, name);
    else if (format === "png") await exportPng(svg, extent, title, name);
    else await exportText(format, lineageParams(), name);
  } catch (error) {
    failed(error);
  }
}));

// ---- Tokens ----

function askForToken(reason) {
  const dialog = $("#token-dialog");
  $("#token-reason").textContent = reason;
  dialog.querySelector("#token").value = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok" ? dialog.querySelector("#token").value.trim() || null : null);
    }, { once: true });
  });
}

onTokenNeeded(askForToken);

window.addEventListener("popstate", () => {
  state = readUrl();
  load();
});

load();
