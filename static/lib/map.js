// A choropleth in SVG over a shipped boundary set: geometry fetched once per set and zoom (the
// browser revalidates it by ETag, and sets are shared between the maps of a page), colours and
// legend from the server's class breaks (`breaks`: upper bounds of all classes but the last).
// Drawn in Web Mercator, so that the raster tiles of a deployment's tile server (`GET /api/geo`
// names it, if any) lie exactly under the regions.
"use strict";

import { number } from "./format.js";

const CLASS_COLOURS = ["#1f4e6b", "#2f7d95", "#58a59a", "#d8a63a", "#e8603c"];
export const NO_DATA_COLOUR = "#2a3038";
const SVG = "http://www.w3.org/2000/svg";
const geometry = new Map(); // set → Promise<GeoJSON>
const TILE = 256;
let tileServer = null; // Promise<{url, attribution} | null>

function tiles() {
  if (!tileServer) {
    tileServer = fetch("/api/geo").then((r) => (r.ok ? r.json() : {})).then((b) => b.tiles || null).catch(() => null);
  }
  return tileServer;
}

/** Web Mercator position in pixels of a 256-pixel world (zoom 0). */
function mercator([lon, lat]) {
  const phi = Math.max(-85.05112878, Math.min(85.05112878, lat)) * Math.PI / 180;
  return [(lon + 180) / 360 * TILE, (1 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / Math.PI) / 2 * TILE];
}

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

  function draw(geo, server) {
    const rings = (g) => (g.type === "Polygon" ? g.coordinates : g.coordinates.flat());
    let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const f of geo.features) for (const ring of rings(f.geometry)) for (const p of ring) {
      const [x, y] = mercator(p);
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    // The zoom at which the set is about 1024 pixels across; tiles of that zoom fit it.
    const zoom = Math.max(0, Math.min(19, Math.round(Math.log2(1024 / Math.max(maxX - minX, maxY - minY, 1e-9)))));
    const k = 2 ** zoom;
    const project = (p) => {
      const [x, y] = mercator(p);
      return ((x - minX) * k).toFixed(1) + "," + ((y - minY) * k).toFixed(1);
    };
    svg.setAttribute("viewBox", "0 0 " + ((maxX - minX) * k).toFixed(1) + " " + ((maxY - minY) * k).toFixed(1));
    state.paths.clear();
    const title = svg.querySelector("title");
    svg.replaceChildren(...(title ? [title] : []));
    if (server) {
      const layer = document.createElementNS(SVG, "g");
      layer.classList.add("tiles");
      for (let tx = Math.floor(minX * k / TILE); tx <= Math.floor(maxX * k / TILE); tx++) {
        for (let ty = Math.floor(minY * k / TILE); ty <= Math.floor(maxY * k / TILE); ty++) {
          const image = document.createElementNS(SVG, "image");
          image.setAttribute("href", server.url.replace("{z}", zoom).replace("{x}", tx).replace("{y}", ty));
          image.setAttribute("x", (tx * TILE - minX * k).toFixed(1));
          image.setAttribute("y", (ty * TILE - minY * k).toFixed(1));
          image.setAttribute("width", TILE);
          image.setAttribute("height", TILE);
          layer.append(image);
        }
      }
      svg.append(layer);
      svg.classList.add("over-tiles");
    }
    state.attribution = server ? server.attribution || "" : "";
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
    const extra = [];
    if (state.attribution) {
      const credit = document.createElement("li");
      credit.className = "attribution";
      credit.textContent = state.attribution;
      extra.push(credit);
    }
    legend.replaceChildren(...items, none, ...extra);
  }

  return {
    /** Regions drawn so far (0 until the geometry arrived). */
    regions: () => state.paths.size,
    update(layer, text, lang) {
      if (!layer || !layer.set) return;
      state.pending = layer;
      if (state.set === layer.set) { paint(layer, text, lang); return; }
      Promise.all([load(layer.set), tiles()])
        .then(([geo, server]) => {
          if (state.set !== layer.set) { draw(geo, server); state.set = layer.set; }
          paint(state.pending, text, lang);
        })
        .catch((e) => console.warn("pantau: map not loaded:", e.message));
    },
  };
}
