// The leadership tablet page (`/kpi`, `/kpi?dashboard=ID`): a dashboard's panels as cards in the
// file's order, live over /ws. When the connection drops the cards keep their last values, each
// with its age, under an "offline" line; they move again when it comes back.
"use strict";

import { apiFetch } from "/lib/auth.js";
import { initialLang, switchLang, pick } from "/lib/format.js";
import { startLive } from "/lib/live.js";
import { HEALTH_TOPIC, changeOf, drawHeader, drawHealth, drawPanels, loadDashboard, loadRegions, markFreshness, panelSection } from "/lib/board.js";
import { words } from "/lib/words.js";

const params = new URLSearchParams(location.search);
const byId = (id) => document.getElementById(id);

const view = { lang: initialLang(), dashboard: null, sections: new Map(), live: null, regions: {} };
window.pantau = view; // read by browser tests and handy in the console

const ctx = () => ({ lang: view.lang, zone: view.live.timeZone, t: words(view.lang), regions: view.regions });

/** The dashboard asked for, else the first one made for tablets, else the first. */
async function chosen() {
  if (params.get("dashboard")) return params.get("dashboard");
  const all = await apiFetch("/api/dashboards").then((r) => (r.ok ? r.json() : { dashboards: [] }));
  const tablet = all.dashboards.find((d) => d.audience === "tablet") || all.dashboards[0];
  return tablet ? tablet.id : null;
}

function build() {
  const main = byId("cards");
  view.sections = new Map();
  const cards = view.dashboard.panels.map((panel) => {
    const section = panelSection(panel);
    view.sections.set(panel.id, section);
    return section;
  });
  main.replaceChildren(...cards);
  byId("title").textContent = pick(view.dashboard.title, view.lang);
  document.title = "Pantau — " + pick(view.dashboard.title, view.lang);
}

function tick() {
  const now = Date.now();
  drawHeader(view.live, view.lang, new Date(now));
  const offline = byId("offline");
  offline.hidden = view.live.connection === "open" || !view.live.topics.size;
  offline.textContent = words(view.lang)("offline");
  markFreshness(view.dashboard, view.sections, view.live, ctx(), now);
}

let reloading = false;
function onChange(what) {
  const change = changeOf(view.dashboard, view.live, what);
  if (change === "redefine" && !reloading) {
    reloading = true;
    loadDashboard(view.dashboard.id)
      .then((d) => { view.dashboard = d; build(); drawPanels(d, view.sections, view.live, ctx()); })
      .catch((e) => console.warn("pantau: dashboard not reloaded:", e.message))
      .finally(() => { reloading = false; });
  } else if (change === "draw") {
    drawPanels(view.dashboard, view.sections, view.live, ctx(), what);
  } else if (change === "health") {
    drawHealth(view.dashboard, view.sections, view.live, ctx());
  }
  tick();
}

async function main() {
  const id = await chosen();
  try {
    [view.dashboard, view.regions] = await Promise.all([loadDashboard(id || ""), loadRegions()]);
  } catch (e) {
    const t = words(view.lang);
    byId("message").textContent = e.refused ? t("refused") : t("not_found", { id: id || "", list: (e.known || []).join(", ") });
    return;
  }
  build();
  view.live = startLive({ prefixes: ["dashboards/" + view.dashboard.id + "/"], topics: [HEALTH_TOPIC], onChange });
  tick();
  setInterval(tick, 1000);
}

byId("lang").addEventListener("click", () => {
  view.lang = switchLang(view.lang);
  if (!view.live) return;
  build();
  drawPanels(view.dashboard, view.sections, view.live, ctx());
  tick();
});

main().catch((e) => console.warn("pantau:", e));
