// The map explorer (`/map?dashboard=ID&panel=ID`): one points/clusters/heat layer of a dashboard,
// panned (drag) and zoomed (wheel) by hand. The whole set comes with the panel's topic; a moved
// view is asked for with the protocol's `view` message and drawn from the `features` answers,
// which the server sends again whenever the layer moves.
"use strict";

import { apiFetch } from "/lib/auth.js";
import { initialLang, number, pick, switchLang } from "/lib/format.js";
import { startLive } from "/lib/live.js";
import { drawHeader } from "/lib/board.js";
import { choropleth } from "/lib/map.js";
import { words } from "/lib/words.js";

const params = new URLSearchParams(location.search);
const byId = (id) => document.getElementById(id);
const view = { lang: initialLang(), live: null, map: null, topic: null, viewed: null, drawn: null };
window.pantau = view; // read by browser tests and handy in the console

function text() {
  const t = words(view.lang);
  return { unit: t("complaints"), noData: t("no_data"), status: t("status"), total: t("total") };
}

function draw() {
  const t = words(view.lang);
  // A view asked for is drawn from its features; until then (or when reset), the topic's value.
  const features = view.viewed ? view.live.features.get(view.topic) : null;
  const held = view.live.topics.get(view.topic);
  const value = features ? features.data : held ? held.data : null;
  if (!value) return;
  view.drawn = features ? { seq: features.seq, zoom: features.zoom } : { seq: held.seq, zoom: value.zoom };
  view.map.update(value, text(), view.lang);
  byId("summary").textContent = number(value.total || 0, view.lang) + " " + t("complaints") +
    (features ? " · zoom " + features.zoom : "");
}

function tick() {
  drawHeader(view.live, view.lang, new Date());
  byId("hint").textContent = view.lang === "id" ? "Geser untuk memindah, gulir untuk memperbesar" : "Drag to move, scroll to zoom";
}

async function main() {
  const dashboard = params.get("dashboard") || "kota-pasuruan-peta";
  const d = await apiFetch("/api/dashboards/" + encodeURIComponent(dashboard)).then((r) => (r.ok ? r.json() : null));
  const panel = d && (d.panels.find((p) => p.id === params.get("panel")) ||
    d.panels.find((p) => p.layer && p.layer.kind !== "choropleth"));
  if (!panel) {
    byId("panel-title").textContent = words(view.lang)("not_found", { id: dashboard, list: "" });
    return;
  }
  view.topic = panel.topic;
  byId("title").textContent = pick(d.title, view.lang);
  byId("panel-title").textContent = pick(panel.title, view.lang);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.classList.add("map");
  const legend = document.createElement("ul");
  legend.className = "legend";
  byId("map-body").append(svg, legend);
  view.map = choropleth(svg, legend);
  view.map.interactive(({ bbox, zoom }) => {
    view.viewed = { bbox, zoom };
    view.live.view(view.topic, bbox, zoom);
  });
  view.live = startLive({
    topics: [view.topic],
    onChange(what) {
      if (what === view.topic || what === "features:" + view.topic) draw();
      tick();
    },
  });
  tick();
  setInterval(tick, 1000);
}

byId("lang").addEventListener("click", () => {
  view.lang = switchLang(view.lang);
  if (view.live) { draw(); tick(); }
});

main().catch((e) => console.warn("pantau:", e));
