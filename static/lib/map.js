// A choropleth in SVG over a shipped boundary set: geometry fetched once per set and zoom (the
// browser revalidates it by ETag, and sets are shared between the maps of a page), colours and
// legend from the server's class breaks (`breaks`: upper bounds of all classes but the last).
"use strict";

import { number } from "./format.js";

const CLASS_COLOURS = ["#1f4e6b", "#2f7d95", "#58a59a", "#d8a63a", "#e8603c"];
export const NO_DATA_COLOUR = "#2a3038";
const SVG = "http://www.w3.org/2000/svg";
const geometry = new Map(); // set → Promise<GeoJSON>

function load(set) {
  if (!geometry.has(set)) {
    const request = fetch("/api/geo/" + encodeURIComponent(set) + "?zoom=13")
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))));
    request.catch(() => geometry.delete(set)); // tried again at the next update
    geometry.set(set, request);
  }
  return geometry.get(set);
}

/** The class of `value`: the first whose break is ≥ it, else the last. */
export function classOf(value, breaks) {
  const i = breaks.findIndex((b) => value <= b);
  return i === -1 ? breaks.length : i;
}

/**
 * A map drawn into `svg` with its legend in `legend` (a list element). `update(layer, text)`
 * takes a map value (`set`, `breaks`, `values` {region code: value}) and the words
 * `{ unit, noData }` to use.
 */
export function choropleth(svg, legend) {
  const state = { set: null, paths: new Map(), pending: null };

  function draw(geo) {
    const rings = (g) => (g.type === "Polygon" ? g.coordinates : g.coordinates.flat());
    let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const f of geo.features) for (const ring of rings(f.geometry)) for (const [x, y] of ring) {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    // Equirectangular, with longitude shrunk by cos(latitude) so shapes keep their proportions.
    const kx = Math.cos(((minY + maxY) / 2) * Math.PI / 180) * 1000;
    const ky = 1000;
    const project = ([x, y]) => ((x - minX) * kx).toFixed(1) + "," + ((maxY - y) * ky).toFixed(1);
    svg.setAttribute("viewBox", "0 0 " + ((maxX - minX) * kx).toFixed(1) + " " + ((maxY - minY) * ky).toFixed(1));
    state.paths.clear();
    const title = svg.querySelector("title");
    svg.replaceChildren(...(title ? [title] : []));
    for (const f of geo.features) {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", rings(f.geometry).map((ring) => "M" + ring.map(project).join("L") + "Z").join(""));
      path.setAttribute("fill-rule", "evenodd");
      path.setAttribute("fill", NO_DATA_COLOUR);
      path.dataset.code = f.properties.kode;
      path.dataset.name = f.properties.nama;
      path.append(document.createElementNS(SVG, "title"));
      svg.append(path);
      state.paths.set(f.properties.kode, path);
    }
  }

  function paint(layer, text, lang) {
    const breaks = layer.breaks || [];
    const colours = CLASS_COLOURS.slice(Math.max(0, CLASS_COLOURS.length - (breaks.length + 1)));
    for (const [code, path] of state.paths) {
      const value = layer.values ? layer.values[code] : undefined;
      const known = typeof value === "number";
      path.setAttribute("fill", known ? colours[Math.min(classOf(value, breaks), colours.length - 1)] : NO_DATA_COLOUR);
      path.querySelector("title").textContent = path.dataset.name + ": " +
        (known ? number(value, lang) + " " + text.unit : text.noData);
    }
    const bounds = [0, ...breaks];
    const items = colours.map((colour, i) => {
      const li = document.createElement("li");
      li.style.setProperty("--swatch", colour);
      const low = i === 0 ? bounds[0] : Math.floor(bounds[i]) + 1;
      const high = breaks[i];
      li.textContent = i >= breaks.length ? "≥ " + number(low, lang)
        : low >= high ? number(high, lang) : number(low, lang) + "–" + number(high, lang);
      return li;
    });
    const none = document.createElement("li");
    none.style.setProperty("--swatch", NO_DATA_COLOUR);
    none.textContent = text.noData;
    legend.replaceChildren(...items, none);
  }

  return {
    /** Regions drawn so far (0 until the geometry arrived). */
    regions: () => state.paths.size,
    update(layer, text, lang) {
      if (!layer || !layer.set) return;
      state.pending = layer;
      if (state.set === layer.set) { paint(layer, text, lang); return; }
      load(layer.set)
        .then((geo) => {
          if (state.set !== layer.set) { draw(geo); state.set = layer.set; }
          paint(state.pending, text, lang);
        })
        .catch((e) => console.warn("pantau: map not loaded:", e.message));
    },
  };
}
