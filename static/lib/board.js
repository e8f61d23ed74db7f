// What the wall and the tablet pages share: loading a dashboard and the region names, one
// section per panel with its title and data age, the freshness of a panel's data, and the page
// header (clock in the deployment's zone, connection indicator, language toggle).
"use strict";

import { apiFetch, isRefusal } from "./auth.js";
import { age, clock, longDate, pick } from "./format.js";
import { loadKinds, renderPanel } from "./panels.js";
import { words } from "./words.js";

/** Topic of the sources' health (last success per source, for data ages). */
export const HEALTH_TOPIC = "sources/health";

/**
 * A dashboard as `GET /api/dashboards/{id}` gives it, with the drawings of its panels' kinds
 * loaded; rejects with the list of known ids.
 */
export async function loadDashboard(id) {
  const response = await apiFetch("/api/dashboards/" + encodeURIComponent(id));
  if (response.ok) {
    const dashboard = await response.json();
    await loadKinds(dashboard.panels.map((p) => p.kind));
    return dashboard;
  }
  const known = await apiFetch("/api/dashboards")
    .then((r) => (r.ok ? r.json() : { dashboards: [] }))
    .catch(() => ({ dashboards: [] }));
  const error = new Error("HTTP " + response.status);
  error.notFound = response.status === 404;
  error.refused = isRefusal(response.status);
  error.known = known.dashboards.map((d) => d.id);
  throw error;
}

/** Region names by Kemendagri code, once per page (`GET /api/regions`). */
let regionNames = null;
export function loadRegions() {
  if (!regionNames) {
    regionNames = apiFetch("/api/regions")
      .then((r) => (r.ok ? r.json() : { regions: {} }))
      .then((body) => Object.fromEntries(Object.entries(body.regions || {}).map(([code, r]) => [code, r.name])))
      .catch(() => ({}));
  }
  return regionNames;
}

/** The section of one panel: a header (title, data age) and a body its value is drawn into. */
export function panelSection(panel) {
  const section = document.createElement("section");
  section.className = "panel kind-" + panel.kind;
  section.dataset.panel = panel.id;
  const header = document.createElement("header");
  const title = document.createElement("h2");
  const ageText = document.createElement("span");
  ageText.className = "age";
  header.append(title, ageText);
  const body = document.createElement("div");
  body.className = "body";
  section.append(header, body);
  return section;
}

/**
 * How fresh the data behind `panel` is at `now`: `ageS` since the newer of its value's commit
 * and the last successful pull of a source feeding its dataset, and `stale` when the connection
 * is down, a feeding source is stale or failing, or a source passed the dashboard's own
 * threshold (`[staleness]`).
 */
export function freshness(panel, dashboard, live, now) {
  const held = live.topics.get(panel.topic);
  const dataset = panel.query ? panel.query.dataset : null;
  const health = live.topics.get(HEALTH_TOPIC);
  const feeding = dataset && health && health.data ? Object.values(health.data.sources || {}).filter((s) => s.dataset === dataset) : [];
  const states = live.sources.filter((s) => s.dataset === dataset).map((s) => s.state);
  let at = held && held.committedAt ? Date.parse(held.committedAt) : null;
  let late = false;
  for (const s of feeding) {
    if (!s.last_success) continue;
    const success = Date.parse(s.last_success);
    at = at === null ? success : Math.max(at, success);
    const limit = dashboard.staleness ? dashboard.staleness[s.id] : undefined;
    if (limit !== undefined && (now - success) / 1000 > limit) late = true;
  }
  const stale = live.connection !== "open" || late || states.some((s) => s === "stale" || s === "failing");
  return { ageS: at === null ? null : Math.max(0, (now - at) / 1000), stale, held: Boolean(held) };
}

/** Draws the panels of `dashboard` that have `sections` from what `live` holds. */
export function drawPanels(dashboard, sections, live, ctx, topic) {
  for (const panel of dashboard.panels) {
    if (topic && topic !== panel.topic) continue;
    const section = sections.get(panel.id);
    if (!section) continue;
    section.querySelector("h2").textContent = pick(panel.title, ctx.lang);
    const held = live.topics.get(panel.topic);
    renderPanel(section.querySelector(".body"), panel, held ? held.data : undefined, ctx);
  }
}

/**
 * What a change of `topic` asks of a page showing `dashboard`: `"redefine"` when a panel was added
 * to or removed from its file (a new topic arrived, or one was removed), `"draw"` for one of its
 * panels, `"health"` for the sources' health, `null` otherwise.
 */
export function changeOf(dashboard, live, topic) {
  if (topic === HEALTH_TOPIC) return "health";
  if (!topic.startsWith("dashboards/" + dashboard.id + "/")) return null;
  const known = dashboard.panels.some((p) => p.topic === topic);
  return known === live.topics.has(topic) ? "draw" : "redefine";
}

/** Redraws the source-health panels (their relative times move with the clock). */
export function drawHealth(dashboard, sections, live, ctx) {
  for (const p of dashboard.panels) if (p.kind === "source_health") drawPanels(dashboard, sections, live, ctx, p.topic);
}

/** Updates every section's data age and stale mark; returns the oldest age and whether any is stale. */
export function markFreshness(dashboard, sections, live, ctx, now) {
  let oldest = null;
  let anyStale = false;
  for (const panel of dashboard.panels) {
    const section = sections.get(panel.id);
    if (!section) continue;
    const f = freshness(panel, dashboard, live, now);
    const label = section.querySelector(".age");
    label.textContent = f.ageS === null ? (f.held ? ctx.t("no_data") : "")
      : ctx.t("updated", { age: age(f.ageS, ctx.lang) });
    section.classList.toggle("stale", f.stale);
    section.dataset.staleText = ctx.t("stale");
    if (f.ageS !== null) oldest = Math.max(oldest || 0, f.ageS);
    anyStale = anyStale || f.stale;
  }
  return { oldest, anyStale };
}

/** The header's clock, date, connection indicator and language button. */
export function drawHeader(live, lang, now) {
  const t = words(lang);
  const byId = (id) => document.getElementById(id);
  byId("clock").textContent = clock(now, live.timeZone, true);
  const date = byId("date");
  if (date) date.textContent = longDate(now, live.timeZone, lang);
  byId("conn").className = "conn conn-" + live.connection;
  byId("conn-text").textContent = live.refused ? t("refused")
    : t({ open: "connected", closed: "reconnecting" }[live.connection] || "connecting");
  byId("lang").textContent = lang === "id" ? "EN" : "ID";
  document.documentElement.lang = lang;
}

/** Worst source state first: a failing or late source must be seen from across the room. */
export function sourcesLine(live, lang) {
  const t = words(lang);
  for (const state of ["failing", "stale", "starting"]) {
    const hit = live.sources.filter((s) => s.state === state);
    if (hit.length) {
      return { state, text: hit.map((s) => s.id + " " + t("sources")[state]).join(" · "),
        title: hit.map((s) => s.last_error).filter(Boolean).join("\n") };
    }
  }
  return { state: "fresh", text: live.sources.map((s) => s.id).join(" · "), title: "" };
}
