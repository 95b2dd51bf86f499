// Exports of the current view: the drawing as SVG or PNG (made here, from what is on screen),
// and the same subgraph as DOT or Mermaid (rendered by the server's lineage export).

import { get } from "./api.js";

/** Styles that give the drawing its look, copied onto each element of the exported file. */
const STYLED = ["fill", "stroke", "stroke-width", "stroke-dasharray", "opacity", "font-size", "font-weight", "font-family"];

function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/**
 * The drawing as a standalone SVG document: the whole graph at its natural size (not the
 * current zoom), each element carrying its computed style as attributes, since the file
 * leaves the page's stylesheet behind.
 */
export function svgText(svg, extent, title) {
  const copy = svg.cloneNode(true);
  const live = svg.querySelectorAll("*");
  const copied = copy.querySelectorAll("*");
  live.forEach((element, i) => {
    const style = getComputedStyle(element);
    for (const property of STYLED) {
      const value = style.getPropertyValue(property);
      if (value && value !== "normal") copied[i].setAttribute(property, value);
    }
    copied[i].removeAttribute("tabindex");
  });
  copy.querySelector(".viewport")?.removeAttribute("transform");
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.setAttribute("width", extent.width);
  copy.setAttribute("height", extent.height);
  copy.setAttribute("viewBox", `0 0 ${extent.width} ${extent.height}`);
  copy.removeAttribute("class");
  copy.removeAttribute("id");
  const heading = document.createElementNS("http://www.w3.org/2000/svg", "title");
  heading.textContent = title;
  copy.insertBefore(heading, copy.firstChild);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
}

export function exportSvg(svg, extent, title, name) {
  download(new Blob([svgText(svg, extent, title)], { type: "image/svg+xml" }), `${name}.svg`);
}

/** The SVG drawn onto a canvas at twice its size, with a white background. */
export async function exportPng(svg, extent, title, name) {
  const url = URL.createObjectURL(new Blob([svgText(svg, extent, title)], { type: "image/svg+xml" }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const scale = Math.min(2, 16_000 / Math.max(extent.width, extent.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.ceil(extent.width * scale);
    canvas.height = Math.ceil(extent.height * scale);
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.scale(scale, scale);
    context.drawImage(image, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    download(blob, `${name}.png`);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** DOT or Mermaid of the same subgraph, from `/api/v1/graph/lineage?format=…`. */
export async function exportText(format, params, name) {
  const response = await get("/api/v1/graph/lineage", { ...params, format });
  const extension = format === "dot" ? "dot" : "mmd";
  download(await response.blob(), `${name}.${extension}`);
}
