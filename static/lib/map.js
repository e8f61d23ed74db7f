// A choropleth in SVG over a shipped boundary set: geometry fetched once per set and zoom (the
// browser revalidates it by ETag, and sets are shared between the maps of a page), colours and
// legend from the server's class breaks (`breaks`: upper bounds of all classes but the last).
// Drawn in Web Mercator, so that the raster tiles of a deployment's tile server (`GET /api/geo`
// names it, if any) lie exactly under the regions.
"use strict";

import { apiFetch } from "./auth.js";
import { number } from "./format.js";

const CLASS_COLOURS = ["#1f4e6b", "#2f7d95", "#58a59a", "#d8a63a", "#e8603c"];
export const NO_DATA_COLOUR = "#2a3038";
/** Lifecycle colours of points and clusters (as the status pills). */
const STATUS_COLOURS = {
  received: "#4fa3e0", verified: "#4fa3e0", pending: "#4fa3e0", assigned: "#e0b84f", in_progress: "#e0b84f",
  on_hold: "#e0884f", reopened: "#e0884f", resolved: "#3fb96a", completed: "#3fb96a", rejected: "#e05252",
  cancelled: "#e05252", failed: "#e05252",
};
const SVG = "http://www.w3.org/2000/svg";
const geometry = new Map(); // set → Promise<GeoJSON>
const TILE = 256;
let tileServer = null; // Promise<{url, attribution} | null>

function tiles() {
  if (!tileServer) {
    tileServer = apiFetch("/api/geo").then((r) => (r.ok ? r.json() : {})).then((b) => b.tiles || null).catch(() => null);
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
    const request = apiFetch("/api/geo/" + encodeURIComponent(set) + "?zoom=13")
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
    // The zoom at which the set is about 1024 pixels across, rounded down — the rule the server
    // gives a row layer its zoom by (engine::layers::fit_zoom), so a view's zoom counts from the
    // layer's; tiles of that zoom fit the set.
    const zoom = Math.max(0, Math.min(19, Math.floor(Math.log2(1024 / Math.max(maxX - minX, maxY - minY, 1e-9)))));
    const k = 2 ** zoom;
    const project = (p) => {
      const [x, y] = mercator(p);
      return ((x - minX) * k).toFixed(1) + "," + ((y - minY) * k).toFixed(1);
    };
    svg.setAttribute("viewBox", "0 0 " + ((maxX - minX) * k).toFixed(1) + " " + ((maxY - minY) * k).toFixed(1));
    state.frame = { minX, minY, k, zoom, width: (maxX - minX) * k, height: (maxY - minY) * k };
    state.box = { x: 0, y: 0, w: state.frame.width, h: state.frame.height };
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

  /** A lon/lat position in the drawing's pixels. */
  function at(lon, lat) {
    const [x, y] = mercator([lon, lat]);
    return [(x - state.frame.minX) * state.frame.k, (y - state.frame.minY) * state.frame.k];
  }

  function svgNode(tag, attributes, title) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (title) {
      const t = document.createElementNS(SVG, "title");
      t.textContent = title;
      node.append(t);
    }
    return node;
  }

  /**
   * Rows over the regions: `points` (a dot per complaint, coloured by status, the newest ringed),
   * `clusters` (a bubble per grid cell, sized by its count, coloured by its commonest status) or
   * `heat` (grid cells, more opaque where more complaints are). Regions are drawn plain below.
   */
  function paintRows(layer, text, lang) {
    for (const path of state.paths.values()) {
      path.setAttribute("fill", NO_DATA_COLOUR);
      path.querySelector("title").textContent = path.dataset.name;
    }
    const group = svgNode("g", { class: "features" });
    const seen = new Set();
    // Sizes in the drawing's units, so a dot reads the same on a small panel and a large one.
    const unit = (svg.viewBox.baseVal && svg.viewBox.baseVal.width ? svg.viewBox.baseVal.width : 1024) / 1024;
    if (layer.layer === "points") {
      for (const [key, p] of Object.entries(layer.points || {})) {
        const [x, y] = at(p.lon, p.lat);
        const newest = key === layer.newest;
        seen.add(p.status);
        group.append(svgNode("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: ((newest ? 14 : 8) * unit).toFixed(1),
          fill: STATUS_COLOURS[p.status] || "#888", class: newest ? "point newest" : "point", "data-key": key },
        key + " · " + (text.status[p.status] || p.status)));
      }
    } else if (layer.layer === "clusters") {
      const counts = Object.values(layer.clusters || {}).map((c) => c.count);
      const most = Math.max(1, ...counts);
      for (const [cell, c] of Object.entries(layer.clusters || {})) {
        const [x, y] = at(c.lon, c.lat);
        const top = Object.entries(c.mix || {}).sort((a, b) => b[1] - a[1])[0];
        const status = top ? top[0] : "";
        seen.add(status);
        const r = (8 + 26 * Math.sqrt(c.count / most)) * unit;
        const bubble = svgNode("g", { class: "cluster", "data-key": cell });
        bubble.append(svgNode("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: r.toFixed(1), fill: STATUS_COLOURS[status] || "#888" },
          number(c.count, lang) + " " + text.unit + " · " + Object.entries(c.mix || {})
            .map(([s, n]) => (text.status[s] || s) + " " + number(n, lang)).join(", ")));
        const label = svgNode("text", { x: x.toFixed(1), y: (y + 4 * unit).toFixed(1), "text-anchor": "middle",
          "font-size": (13 * unit).toFixed(1) });
        label.textContent = number(c.count, lang);
        bubble.append(label);
        group.append(bubble);
      }
    } else if (layer.layer === "heat") {
      const most = Math.max(1, layer.max || 1);
      for (const [cell, c] of Object.entries(layer.cells || {})) {
        // A cell `L/x/y` spans 1/2^L of the 256-pixel world on each axis.
        const [level, cx, cy] = cell.split("/").map(Number);
        const size = TILE / 2 ** level;
        const x = (cx * size - state.frame.minX) * state.frame.k;
        const y = (cy * size - state.frame.minY) * state.frame.k;
        group.append(svgNode("rect", { x: x.toFixed(1), y: y.toFixed(1), width: (size * state.frame.k).toFixed(1),
          height: (size * state.frame.k).toFixed(1), fill: "#ff5a36", "fill-opacity": (0.15 + 0.8 * c.weight / most).toFixed(2),
          class: "heat", "data-key": cell }, number(c.weight, lang) + " " + text.unit));
      }
    }
    const old = svg.querySelector("g.features");
    if (old) old.replaceWith(group); else svg.append(group);
    const items = layer.layer === "heat"
      ? [["#ff5a36", text.total + " " + number(layer.total || 0, lang)]]
      : [...seen].filter(Boolean).map((s) => [STATUS_COLOURS[s] || "#888", text.status[s] || s]);
    showLegend(items);
  }

  /** The legend: `[colour, words]` swatches, then the tiles' attribution if any. */
  function showLegend(items) {
    const entry = (className, colour, words) => {
      const li = document.createElement("li");
      if (className) li.className = className;
      if (colour) li.style.setProperty("--swatch", colour);
      li.textContent = words;
      return li;
    };
    const all = items.map(([colour, words]) => entry("", colour, words));
    if (state.attribution) all.push(entry("attribution", null, state.attribution));
    legend.replaceChildren(...all);
  }

  function paint(layer, text, lang) {
    if (layer.layer) { paintRows(layer, text, lang); return; }
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
      const low = i === 0 ? bounds[0] : Math.floor(bounds[i]) + 1;
      const high = breaks[i];
      return [colour, i >= breaks.length ? "≥ " + number(low, lang)
        : low >= high ? number(high, lang) : number(low, lang) + "–" + number(high, lang)];
    });
    showLegend([...items, [NO_DATA_COLOUR, text.noData]]);
  }

  /** Longitude and latitude of a point of the drawing. */
  function lonLat(px, py) {
    const x = state.frame.minX + px / state.frame.k;
    const y = state.frame.minY + py / state.frame.k;
    const n = Math.PI * (1 - 2 * y / TILE);
    return [x / TILE * 360 - 180, Math.atan(Math.sinh(n)) * 180 / Math.PI];
  }

  /** The part of the map in view: its box in degrees and its web-map zoom. */
  function view() {
    const { x, y, w, h } = state.box;
    const [west, north] = lonLat(x, y);
    const [east, south] = lonLat(x + w, y + h);
    const zoom = Math.round(state.frame.zoom + Math.log2(state.frame.width / w));
    return { bbox: [west, south, east, north].map((v) => Math.round(v * 1e6) / 1e6), zoom: Math.max(0, Math.min(22, zoom)) };
  }

  function show(box) {
    const { width, height } = state.frame;
    const w = Math.min(width, Math.max(width / 256, box.w));
    const h = w * height / width;
    state.box = { x: Math.min(width - w, Math.max(0, box.x)), y: Math.min(height - h, Math.max(0, box.y)), w, h };
    svg.setAttribute("viewBox", [state.box.x, state.box.y, state.box.w, state.box.h].map((v) => v.toFixed(1)).join(" "));
  }

  return {
    /** Regions drawn so far (0 until the geometry arrived). */
    regions: () => state.paths.size,
    /** The part of the map in view (`{ bbox, zoom }`), once drawn. */
    view: () => (state.frame ? view() : null),
    /**
     * Lets people pan (drag) and zoom (wheel) the map; `onView({ bbox, zoom })` is called a
     * moment after the view settles.
     */
    interactive(onView) {
      let timer = null;
      const settled = () => { clearTimeout(timer); timer = setTimeout(() => onView(view()), 250); };
      const scale = () => state.box.w / svg.getBoundingClientRect().width;
      svg.addEventListener("wheel", (event) => {
        if (!state.frame) return;
        event.preventDefault();
        const rect = svg.getBoundingClientRect();
        const factor = event.deltaY < 0 ? 0.5 : 2;
        const fx = (event.clientX - rect.left) / rect.width;
        const fy = (event.clientY - rect.top) / rect.height;
        const { x, y, w, h } = state.box;
        show({ x: x + fx * w * (1 - factor), y: y + fy * h * (1 - factor), w: w * factor });
        settled();
      }, { passive: false });
      let drag = null;
      svg.addEventListener("pointerdown", (event) => {
        if (!state.frame) return;
        drag = { x: event.clientX, y: event.clientY, box: { ...state.box } };
        svg.setPointerCapture(event.pointerId);
      });
      svg.addEventListener("pointermove", (event) => {
        if (!drag) return;
        const k = scale();
        show({ x: drag.box.x - (event.clientX - drag.x) * k, y: drag.box.y - (event.clientY - drag.y) * k, w: drag.box.w });
      });
      svg.addEventListener("pointerup", () => { if (drag) { drag = null; settled(); } });
    },
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
