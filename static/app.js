// Pantau live overview: follows one topic over /ws (protocol v1, docs/protocol.md) through the
// pages' shared connection (static/lib/live.js), shows the connection state and the age of the
// data, and reconnects with resume by itself. The dashboards' pages are /wall/… and /kpi.
"use strict";

import { clock, initialLang, switchLang, number as formatNumber } from "./lib/format.js";
import { startLive } from "./lib/live.js";
import { choropleth } from "./lib/map.js";

const TOPIC = "overview/complaints";
const STALE_AFTER_S = 30;

const TEXT = {
  id: {
    deployment: "Ruang Kendali", connecting: "Menghubungkan…", open: "Belum selesai",
    connected: "Terhubung", reconnecting: "Terputus — menyambung ulang…", total: "Total pengaduan",
    refused: "Tidak dapat terhubung — periksa token layar (?token=…) atau server",
    resolved: "Selesai", rejected: "Ditolak", by_category: "Per kategori", by_kecamatan: "Per kecamatan",
    newest: "Pengaduan terbaru", updated: "diperbarui {s} dtk lalu", no_data: "belum ada data",
    footer: "Data simulasi di atas batas kelurahan Kota Pasuruan (Kemendagri, cahyadsn/wilayah_boundaries, MIT).",
    nav_wall: "Layar dinding", nav_map_wall: "Peta aduan", nav_explore: "Jelajah peta", nav_kpi: "KPI pimpinan",
    nav_analyst: "Analis",
    status: { received: "diterima", verified: "diverifikasi", assigned: "didisposisi", in_progress: "diproses",
              on_hold: "ditunda", resolved: "selesai", rejected: "ditolak", reopened: "dibuka ulang" },
    unknown: "tanpa lokasi",
    map: "Peta pengaduan per kelurahan", no_data: "tanpa data", complaints: "pengaduan",
    sources_fresh: "Sumber data: {n} aktif", sources_starting: "Menunggu sumber data…",
    sources_stale: "Sumber terlambat: {ids}", sources_failing: "Sumber gagal: {ids}",
  },
  en: {
    deployment: "Command Centre", connecting: "Connecting…", open: "Open",
    connected: "Connected", reconnecting: "Disconnected — reconnecting…", total: "Total complaints",
    refused: "Cannot connect — check the screen's token (?token=…) or the server",
    resolved: "Resolved", rejected: "Rejected", by_category: "By category", by_kecamatan: "By district",
    newest: "Newest complaints", updated: "updated {s} s ago", no_data: "no data yet",
    footer: "Simulated data over the kelurahan boundaries of Kota Pasuruan (Kemendagri, cahyadsn/wilayah_boundaries, MIT).",
    nav_wall: "Wall screen", nav_map_wall: "Complaint map", nav_explore: "Map explorer", nav_kpi: "Leadership KPIs",
    nav_analyst: "Analyst",
    status: { received: "received", verified: "verified", assigned: "assigned", in_progress: "in progress",
              on_hold: "on hold", resolved: "resolved", rejected: "rejected", reopened: "reopened" },
    unknown: "no location",
    map: "Complaints by kelurahan", no_data: "no data", complaints: "complaints",
    sources_fresh: "Sources: {n} live", sources_starting: "Waiting for sources…",
    sources_stale: "Sources late: {ids}", sources_failing: "Sources failing: {ids}",
  },
};

const view = {
  lang: initialLang(),
  timeZone: "Asia/Jakarta",
  deployment: null,
  serverId: null,
  sources: [],
  connection: "connecting",
  data: null,
  seq: 0,
  committedAt: null,
};
window.pantau = view; // read by browser tests and handy in the console

const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[view.lang][key];
const number = (n) => formatNumber(n, view.lang);
const clockText = (date, withSeconds) => clock(date, view.timeZone, withSeconds);

function setFigure(id, value) {
  const el = $(id);
  const text = value === undefined ? "—" : number(value);
  if (el.textContent !== text) {
    el.textContent = text;
    el.classList.remove("changed");
    void el.offsetWidth; // restart the highlight animation
    el.classList.add("changed");
  }
}

function bars(list, entries) {
  const max = Math.max(1, ...entries.map((e) => e.count));
  list.replaceChildren(...entries.map((e) => {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = e.label;
    const n = document.createElement("span");
    n.className = "n";
    n.textContent = number(e.count);
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = (100 * e.count / max).toFixed(1) + "%";
    li.append(name, n, bar);
    return li;
  }));
}

function render() {
  document.documentElement.lang = view.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    const value = t(el.dataset.i18n);
    if (typeof value === "string" && !(el.id === "deployment" && view.deployment)) el.textContent = value;
  }
  if (view.deployment) $("deployment").textContent = view.deployment;
  $("lang").textContent = view.lang === "id" ? "EN" : "ID";
  const conn = $("conn");
  conn.className = "conn conn-" + view.connection;
  // A page that never got a hello after several tries is most likely refused (a missing or wrong
  // token, another site's page): say so instead of spinning forever.
  $("conn-text").textContent = live.refused ? t("refused")
    : t({ open: "connected", closed: "reconnecting" }[view.connection] || "connecting");
  renderSources();
  const d = view.data;
  if (!d) return;
  renderMap();
  setFigure("total", d.total);
  setFigure("open", d.open);
  setFigure("resolved", d.resolved);
  setFigure("rejected", d.rejected);
  const largestFirst = (a, b) => b.count - a.count || a.label.localeCompare(b.label);
  bars($("categories"), Object.entries(d.by_category || {})
    .map(([label, count]) => ({ label, count })).sort(largestFirst));
  bars($("kecamatan"), Object.entries(d.by_kecamatan || {})
    .map(([code, k]) => ({ label: code === "unknown" ? t("unknown") : k.name, count: k.count }))
    .sort(largestFirst));
  const newest = Object.values(d.newest || {})
    .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  $("newest").replaceChildren(...newest.map((c) => {
    const li = document.createElement("li");
    const when = document.createElement("time");
    when.dateTime = c.created_at;
    when.textContent = clockText(new Date(c.created_at), false);
    const what = document.createElement("span");
    what.textContent = c.category + " ";
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = "· " + (c.kelurahan_name || t("unknown"));
    what.append(where);
    const pill = document.createElement("span");
    pill.className = "pill " + c.status;
    pill.textContent = t("status")[c.status] || c.status;
    li.append(when, what, pill);
    return li;
  }));
}

// Worst state first: a failing or late source must be seen from across the room.
function sourcesState() {
  for (const state of ["failing", "stale", "starting"]) {
    const hit = view.sources.filter((s) => s.state === state);
    if (hit.length) return { state, hit };
  }
  return { state: "fresh", hit: view.sources };
}

function renderSources() {
  const el = $("sources");
  const { state, hit } = sourcesState();
  const ids = hit.map((s) => s.id).join(", ");
  el.textContent = view.sources.length
    ? t("sources_" + state).replace("{ids}", ids).replace("{n}", number(hit.length)) : "";
  el.title = hit.map((s) => s.last_error).filter(Boolean).join("\n");
  el.className = "sources " + state;
  // The note about simulated data shows only while a simulator feeds the page.
  $("footer").hidden = !view.sources.some((s) => s.kind === "simulator");
}

// The live choropleth: geometry once per set, colours and legend from the server's class breaks.
const map = choropleth($("map"), $("legend"));

function renderMap() {
  const layer = view.data && view.data.map;
  if (layer) map.update(layer, { unit: t("complaints"), noData: t("no_data") }, view.lang);
}

function tick() {
  const now = new Date();
  $("clock").textContent = clockText(now, true);
  const age = $("age");
  if (!view.committedAt) {
    age.textContent = view.data ? t("no_data") : "";
    age.classList.toggle("stale", view.connection === "closed");
    return;
  }
  const seconds = Math.max(0, Math.round((now - new Date(view.committedAt)) / 1000));
  age.textContent = t("updated").replace("{s}", number(seconds));
  age.title = clockText(new Date(view.committedAt), true);
  const late = ["failing", "stale"].includes(sourcesState().state);
  age.classList.toggle("stale", seconds > STALE_AFTER_S || late || view.connection === "closed");
}

// A wall screen is named in its URL (?screen=lobby-1): it reports itself so operators see at
// /api/screens which screens are alive, stale or gone (and reloads once a day, see live.js).
const live = startLive({
  topics: [TOPIC],
  onChange(what) {
    view.connection = live.connection;
    view.timeZone = live.timeZone;
    view.deployment = live.deployment;
    view.serverId = live.serverId;
    view.sources = live.sources;
    const held = live.topics.get(TOPIC);
    if (what === TOPIC && held) {
      view.data = held.data;
      view.seq = held.seq;
      view.committedAt = held.committedAt;
    }
    render();
    tick();
  },
  screen: {
    name: new URLSearchParams(location.search).get("screen"),
    page: "overview",
    report: () => ({
      data_age_s: view.committedAt ? Math.max(0, (Date.now() - new Date(view.committedAt)) / 1000) : null,
      stale: $("age").classList.contains("stale"),
    }),
  },
});

$("lang").addEventListener("click", () => {
  view.lang = switchLang(view.lang);
  render();
  tick();
});

render();
tick();
setInterval(tick, 1000);
