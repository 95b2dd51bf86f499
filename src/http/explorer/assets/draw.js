// Draws a laid-out lineage graph (`/api/v1/graph/layout`) as SVG, and lets the reader zoom
// and pan it. Positions come from the server; this only turns them into shapes. Nothing here
// sets inline styles (the page's Content-Security-Policy forbids them): classes and SVG
// attributes only.

const SVG = "http://www.w3.org/2000/svg";

export function el(name, attributes = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

const FONT_FAMILY = getComputedStyle(document.documentElement).fontFamily || "sans-serif";
const measure = document.createElement("canvas").getContext("2d");

/** Width in pixels of `text` in the given weight and size of the page's font. */
function widthOf(text, font) {
  measure.font = `${font} ${FONT_FAMILY}`;
  return measure.measureText(text).width;
}

/**
 * `text` cut to fit `room` pixels, measured in the font it is drawn in. The middle goes:
 * names such as `postgres.public.jaffle_shop.customers` differ at their ends.
 */
export function fit(text, room, font = "600 13px") {
  if (widthOf(text, font) <= room) return text;
  let [lo, hi] = [1, text.length - 1];
  while (lo < hi) {
    const keep = Math.ceil((lo + hi) / 2);
    if (widthOf(cut(text, keep), font) <= room) lo = keep;
    else hi = keep - 1;
  }
  return cut(text, lo);
}

/** `text` with only `keep` characters left, a third from its start and the rest from its end. */
function cut(text, keep) {
  const head = Math.ceil(keep / 3);
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
}

/** A smooth path through the route's points: horizontal at every point, as data flows. */
export function pathOf(points) {
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let i = 1; i < points.length; i += 1) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    if (y0 === y1) {
      d += ` L${x1},${y1}`;
    } else {
      const bend = Math.max(Math.abs(x1 - x0) / 2, 20);
      d += ` C${x0 + bend},${y0} ${x1 - bend},${y1} ${x1},${y1}`;
    }
  }
  return d;
}

function describe(node) {
  const run = node.lastRun ? `, last run ${node.lastRun.state.toLowerCase()}` : "";
  const more = node.frontier ? ", has more lineage not shown" : "";
  return `${node.kind} ${node.name}${node.namespace ? ` in ${node.namespace}` : ""}${run}${more}`;
}

function drawNode(layer, node, root) {
  const failed = node.lastRun?.state === "FAILED";
  const classes = ["node", `kind-${node.kind}`];
  if (failed) classes.push("failed");
  if (node.key === root) classes.push("root");
  const g = el("g", {
    class: classes.join(" "),
    transform: `translate(${node.x},${node.y})`,
    "data-key": node.key,
    "data-kind": node.kind,
    tabindex: 0,
    role: "button",
    "aria-label": describe(node),
  }, layer);
  el("title", {}, g).textContent = `${node.name}\n${node.key}`;
  const shape = node.kind === "dataset" ? { rx: 10 } : { rx: 2 };
  el("rect", { class: "body", width: node.width, height: node.height, ...shape }, g);
  if (node.kind === "dataset" || node.kind === "job") {
    el("rect", { class: "stripe", width: 6, height: node.height - 2, x: 1, y: 1, rx: node.kind === "dataset" ? 8 : 1 }, g);
  }
  const room = node.width - 22 - (failed ? 56 : 0);
  el("text", { class: "name", x: 14, y: node.height > 40 ? 19 : 21 }, g).textContent = fit(node.name, room);
  if (node.height > 40) {
    const kind = `${node.kind} · `;
    const room = node.width - 22 - widthOf(kind, "11px");
    const sub = node.namespace ? kind + fit(node.namespace, room, "11px") : node.kind;
    el("text", { class: "sub", x: 14, y: 36 }, g).textContent = sub;
  }
  if (failed) {
    el("rect", { class: "badge-box", x: node.width - 54, y: 6, width: 48, height: 16, rx: 3 }, g);
    el("text", { class: "badge", x: node.width - 49, y: 18 }, g).textContent = "FAILED";
  }
  if (node.frontier) {
    const grow = el("g", {
      class: "grow",
      transform: `translate(${node.width + 12},${node.height / 2})`,
      tabindex: 0,
      role: "button",
      "data-grow": node.key,
      "aria-label": `Expand one hop from ${node.name}`,
    }, g);
    el("title", {}, grow).textContent = "More lineage here: expand one hop";
    el("circle", { r: 9 }, grow);
    el("text", { x: -4.5, y: 5 }, grow).textContent = "+";
  }
  return g;
}

function drawGroup(layer, group) {
  const g = el("g", { class: "group", "data-group": group.key }, layer);
  el("rect", { x: group.x, y: group.y, width: group.width, height: group.height, rx: 8 }, g);
  el("text", { x: group.x + 10, y: group.y + 16 }, g).textContent = fit(`${group.name} (operations)`, group.width - 40, "600 12px");
  const close = el("text", {
    class: "close",
    x: group.x + group.width - 18,
    y: group.y + 16,
    tabindex: 0,
    role: "button",
    "data-close-group": group.key,
    "aria-label": `Hide the operations of ${group.name}`,
  }, g);
  close.textContent = "×";
}

/**
 * Draws `layout` into `svg`, replacing what was there. Returns the map of node key to its
 * SVG group, for highlighting.
 */
export function render(svg, layout) {
  svg.replaceChildren();
  const defs = el("defs", {}, svg);
  const marker = el("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse",
  }, defs);
  el("path", { class: "arrow", d: "M0,0 L10,5 L0,10 z" }, marker);
  const viewport = el("g", { class: "viewport" }, svg);
  const groups = el("g", { class: "groups" }, viewport);
  const edges = el("g", { class: "edges" }, viewport);
  const nodes = el("g", { class: "nodes" }, viewport);
  for (const group of layout.groups) drawGroup(groups, group);
  for (const edge of layout.edges) {
    el("path", {
      class: `edge kind-${edge.kind}${edge.reversed ? " reversed" : ""}`,
      d: pathOf(edge.points),
      "marker-end": "url(#arrow)",
      "data-source": edge.source,
      "data-target": edge.target,
    }, edges);
  }
  const drawn = new Map();
  for (const node of layout.nodes) drawn.set(node.key, drawNode(nodes, node, layout.root));
  return drawn;
}

/** Zoom and pan of one SVG: the wheel zooms around the pointer, dragging pans. */
export class View {
  constructor(svg) {
    this.svg = svg;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.extent = { width: 1, height: 1 };
    svg.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    svg.addEventListener("pointerdown", (e) => this.grab(e));
  }

  apply() {
    const viewport = this.svg.querySelector(".viewport");
    if (viewport) viewport.setAttribute("transform", `translate(${this.x},${this.y}) scale(${this.scale})`);
  }

  /** Shows the whole drawing, no larger than life. */
  fit(extent = this.extent) {
    this.extent = extent;
    const box = this.svg.getBoundingClientRect();
    const scale = Math.min(box.width / extent.width, box.height / extent.height, 1);
    this.scale = Number.isFinite(scale) && scale > 0 ? scale : 1;
    this.x = (box.width - extent.width * this.scale) / 2;
    this.y = Math.max(0, (box.height - extent.height * this.scale) / 2);
    this.apply();
  }

  zoom(factor, cx, cy) {
    const box = this.svg.getBoundingClientRect();
    const px = cx ?? box.width / 2;
    const py = cy ?? box.height / 2;
    const scale = Math.min(4, Math.max(0.02, this.scale * factor));
    this.x = px - ((px - this.x) * scale) / this.scale;
    this.y = py - ((py - this.y) * scale) / this.scale;
    this.scale = scale;
    this.apply();
  }

  /** Brings the node's box into the middle of the view. */
  centre(node) {
    const box = this.svg.getBoundingClientRect();
    this.x = box.width / 2 - (node.x + node.width / 2) * this.scale;
    this.y = box.height / 2 - (node.y + node.height / 2) * this.scale;
    this.apply();
  }

  wheel(event) {
    event.preventDefault();
    const box = this.svg.getBoundingClientRect();
    this.zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - box.left, event.clientY - box.top);
  }

  grab(event) {
    if (event.button !== 0 || event.target.closest(".node, .grow, .close")) return;
    const start = { x: event.clientX - this.x, y: event.clientY - this.y };
    this.svg.classList.add("panning");
    this.svg.setPointerCapture(event.pointerId);
    const move = (e) => {
      this.x = e.clientX - start.x;
      this.y = e.clientY - start.y;
      this.apply();
    };
    const up = () => {
      this.svg.classList.remove("panning");
      this.svg.removeEventListener("pointermove", move);
      this.svg.removeEventListener("pointerup", up);
    };
    this.svg.addEventListener("pointermove", move);
    this.svg.addEventListener("pointerup", up);
  }
}

/** A note in the middle of an empty drawing. */
export function note(svg, text) {
  svg.replaceChildren();
  const box = svg.getBoundingClientRect();
  const t = el("text", { class: "empty-note", x: Math.max(20, box.width / 2 - 200), y: Math.max(40, box.height / 3) }, svg);
  t.textContent = text;
}
