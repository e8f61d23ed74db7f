// The wall display (`/wall/{dashboard}`, `/wall?playlist=a,b&every=60`): a dashboard's panels on
// its grid, live over /ws, each with its data age; one part of a dashboard spread over several
// screens with `?part=N`; a named screen (`?screen=lobby-1`) reports itself to operators. The
// overview (`/`) is this page too, on the dashboard its body names (`data-dashboard`); a `board`
// dashboard scrolls and stacks its panels on a narrow screen. docs/pages.md describes the
// parameters.
"use strict";

import { apiFetch } from "/lib/auth.js";
import { initialLang, switchLang, pick } from "/lib/format.js";
import { startLive } from "/lib/live.js";
import {
  HEALTH_TOPIC, changeOf, drawHeader, drawHealth, drawPanels, loadDashboard, loadRegions, markFreshness, panelSection, sourcesLine,
} from "/lib/board.js";
import { applyWords, words } from "/lib/words.js";

const params = new URLSearchParams(location.search);
const byId = (id) => document.getElementById(id);

/** What this screen shows: `[{ id, part }]` (part null = every part side by side). */
function wanted() {
  const part = Number(params.get("part")) || null;
  const onWall = /^\/wall(\/|$)/.test(location.pathname);
  const fromPath = onWall ? decodeURIComponent(location.pathname.replace(/^\/wall\/?/, "").replace(/\/$/, "")) : "";
  if (fromPath) return [{ id: fromPath, part }];
  if (document.body.dataset.dashboard) return [{ id: document.body.dataset.dashboard, part }];
  return (params.get("playlist") || "").split(",").map((s) => s.trim()).filter(Boolean).map((entry) => {
    const [id, p] = entry.split(":");
    return { id, part: Number(p) || part };
  });
}

const view = {
  lang: initialLang(),
  /** `[{ id, part, dashboard, element, sections: Map(panel id → section) }]` */
  boards: [],
  current: 0,
  live: null,
  error: null,
};
window.pantau = view; // read by browser tests and handy in the console

const ctx = () => ({ lang: view.lang, zone: view.live ? view.live.timeZone : "Asia/Jakarta", t: words(view.lang), regions: view.regions });

/** Builds the board of one dashboard: a grid per part shown, one section per panel. */
function buildBoard(board) {
  const { dashboard } = board;
  const element = document.createElement("div");
  element.className = "board";
  element.dataset.dashboard = dashboard.id;
  const layout = dashboard.layout;
  const parts = layout ? (board.part ? [board.part] : Array.from({ length: layout.screens }, (_, i) => i + 1)) : [1];
  const screens = new Map();
  for (const part of parts) {
    const screen = document.createElement("div");
    screen.className = "screen" + (layout ? "" : " auto");
    if (layout) {
      screen.style.gridTemplateColumns = `repeat(${layout.columns}, minmax(0, 1fr))`;
      screen.style.gridTemplateRows = `repeat(${layout.rows}, minmax(0, 1fr))`;
    }
    screens.set(part, screen);
    element.append(screen);
  }
  board.sections = new Map();
  for (const panel of dashboard.panels) {
    const area = panel.area;
    const part = area ? area.screen : 1;
    const screen = screens.get(layout ? part : 1);
    if (!screen) continue;
    const section = panelSection(panel);
    if (layout && area) {
      section.style.gridColumn = `${area.col} / span ${area.width}`;
      section.style.gridRow = `${area.row} / span ${area.height}`;
    }
    board.sections.set(panel.id, section);
    screen.append(section);
  }
  board.element = element;
}

function show(index) {
  view.current = index;
  view.boards.forEach((b, i) => { b.element.hidden = i !== index; });
  const board = view.boards[index];
  if (!board) return;
  byId("title").textContent = pick(board.dashboard.title, view.lang);
  document.body.classList.toggle("board", board.dashboard.audience === "board");
  const layout = board.dashboard.layout;
  byId("part").textContent = layout && board.part && layout.screens > 1 ? board.part + "/" + layout.screens : "";
  document.title = "Pantau — " + pick(board.dashboard.title, view.lang);
}

function drawAll(topic) {
  for (const board of view.boards) drawPanels(board.dashboard, board.sections, view.live, ctx(), topic);
}

function tick() {
  const now = Date.now();
  drawHeader(view.live, view.lang, new Date(now));
  // The overview says when its data is simulated (the demo's sources).
  const footer = byId("footer");
  if (footer) footer.hidden = !view.live.sources.some((s) => s.kind === "simulator");
  const sources = sourcesLine(view.live, view.lang);
  const line = byId("sources");
  line.textContent = sources.text;
  line.title = sources.title;
  line.className = "sources " + sources.state;
  const board = view.boards[view.current];
  if (!board) return;
  const state = markFreshness(board.dashboard, board.sections, view.live, ctx(), now);
  view.dataAge = state.oldest;
  const turned = view.stale !== state.anyStale;
  view.stale = state.anyStale;
  // Operators learn at once when a screen turns stale or fresh, not at the next heartbeat.
  if (turned) view.live.report();
}

/** A panel added to or removed from a file: the board is rebuilt from the new definition. */
let reloading = null;
function refreshDefinition(board) {
  if (reloading) return;
  reloading = loadDashboard(board.id)
    .then((dashboard) => {
      const old = board.element;
      board.dashboard = dashboard;
      buildBoard(board);
      old.replaceWith(board.element);
      show(view.current);
      drawPanels(board.dashboard, board.sections, view.live, ctx());
    })
    .catch((e) => console.warn("pantau: dashboard not reloaded:", e.message))
    .finally(() => { reloading = null; });
}

function onChange(what) {
  for (const board of view.boards) {
    const change = changeOf(board.dashboard, view.live, what);
    if (change === "redefine") refreshDefinition(board);
    else if (change === "draw") drawPanels(board.dashboard, board.sections, view.live, ctx(), what);
    else if (change === "health") drawHealth(board.dashboard, board.sections, view.live, ctx());
  }
  tick();
}

function fail(text) {
  const message = byId("message");
  message.textContent = text;
  message.hidden = false;
}

async function main() {
  const list = wanted();
  if (!list.length) {
    const response = await apiFetch("/api/dashboards");
    if (!response.ok) {
      byId("conn-text").textContent = words(view.lang)("refused");
      fail(words(view.lang)("refused"));
      return;
    }
    const all = await response.json();
    const box = byId("message");
    box.replaceChildren(...all.dashboards.map((d) => {
      const a = document.createElement("a");
      a.href = "/wall/" + encodeURIComponent(d.id) + location.search;
      a.textContent = pick(d.title, view.lang);
      return a;
    }));
    box.classList.add("choose");
    return;
  }
  let dashboards;
  try {
    [dashboards, view.regions] = await Promise.all([Promise.all(list.map((w) => loadDashboard(w.id))), loadRegions()]);
  } catch (e) {
    // A kiosk keeps trying: the file may be fixed, the token replaced or the server back in a minute.
    const t = words(view.lang);
    if (e.refused) byId("conn-text").textContent = t("refused");
    fail(e.notFound ? t("not_found", { id: list.map((w) => w.id).join(", "), list: e.known.join(", ") })
      : e.refused ? t("refused") : t("loading"));
    setTimeout(() => location.reload(), 30000);
    return;
  }
  byId("message").hidden = true;
  view.boards = list.map((w, i) => ({ id: w.id, part: w.part, dashboard: dashboards[i] }));
  for (const board of view.boards) {
    buildBoard(board);
    byId("boards").append(board.element);
  }
  show(0);
  view.live = startLive({
    prefixes: view.boards.map((b) => "dashboards/" + b.id + "/"),
    topics: [HEALTH_TOPIC],
    onChange,
    screen: { name: params.get("screen"), page: "wall/" + list.map((w) => w.id + (w.part ? ":" + w.part : "")).join(","),
      report: () => ({ data_age_s: view.dataAge === undefined ? null : view.dataAge, stale: Boolean(view.stale) }) },
  });
  drawAll();
  tick();
  setInterval(tick, 1000);
  // Relative times inside panels (source health) move with the clock.
  setInterval(() => onChange(HEALTH_TOPIC), 5000);
  const every = Math.max(5, Number(params.get("every")) || 60) * 1000;
  if (view.boards.length > 1) setInterval(() => show((view.current + 1) % view.boards.length), every);
}

byId("lang").addEventListener("click", () => {
  view.lang = switchLang(view.lang);
  applyWords(document, view.lang);
  if (!view.live) return;
  show(view.current);
  for (const board of view.boards) {
    for (const section of board.sections.values()) {
      const body = section.querySelector(".body");
      body.replaceChildren();
      body._map = null;
    }
  }
  drawAll();
  tick();
});

applyWords(document, view.lang);
main().catch((e) => { console.warn("pantau:", e); fail(String(e.message || e)); });
