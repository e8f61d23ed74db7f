// Pantau live overview: follows one topic over /ws (protocol v1, docs/protocol.md), shows the
// connection state and the age of the data, and reconnects with resume by itself.
"use strict";

(function () {
  const TOPIC = "overview/complaints";
  const PING_EVERY_MS = 15000;
  const SILENT_LIMIT_MS = 45000;
  const STALE_AFTER_S = 30;
  const ZONE_NAMES = { "Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT" };

  const TEXT = {
    id: {
      deployment: "Ruang Kendali", connecting: "Menghubungkan…", open: "Belum selesai",
      connected: "Terhubung", reconnecting: "Terputus — menyambung ulang…", total: "Total pengaduan",
      refused: "Tidak dapat terhubung — periksa token layar (?token=…) atau server",
      resolved: "Selesai", rejected: "Ditolak", by_category: "Per kategori", by_kecamatan: "Per kecamatan",
      newest: "Pengaduan terbaru", updated: "diperbarui {s} dtk lalu", no_data: "belum ada data",
      footer: "Data simulasi di atas batas kelurahan Kota Pasuruan (Kemendagri, cahyadsn/wilayah_boundaries, MIT).",
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
      status: { received: "received", verified: "verified", assigned: "assigned", in_progress: "in progress",
                on_hold: "on hold", resolved: "resolved", rejected: "rejected", reopened: "reopened" },
      unknown: "no location",
      map: "Complaints by kelurahan", no_data: "no data", complaints: "complaints",
      sources_fresh: "Sources: {n} live", sources_starting: "Waiting for sources…",
      sources_stale: "Sources late: {ids}", sources_failing: "Sources failing: {ids}",
    },
  };

  const view = {
    lang: localStorage.getItem("pantau.lang") === "en" ? "en" : "id",
    timeZone: "Asia/Jakarta",
    deployment: null,
    serverId: null,
    sources: [],
    connection: "connecting",
    data: null,
    seq: 0,
    committedAt: null,
    lastMessageAt: 0,
  };
  window.pantau = view; // read by browser tests and handy in the console

  const $ = (id) => document.getElementById(id);
  const t = (key) => TEXT[view.lang][key];
  const number = (n) => new Intl.NumberFormat(view.lang === "id" ? "id-ID" : "en-GB").format(n);

  function clockText(date, withSeconds) {
    const parts = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: view.timeZone };
    if (withSeconds) parts.second = "2-digit";
    const text = new Intl.DateTimeFormat("id-ID", parts).format(date).replace(/\./g, ":");
    return text + " " + (ZONE_NAMES[view.timeZone] || view.timeZone);
  }

  // RFC 7396 merge patch, as the server builds it.
  function applyMerge(target, patch) {
    if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
    const out = target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete out[key];
      else out[key] = applyMerge(out[key], value);
    }
    return out;
  }

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
    const refused = view.connection !== "open" && !view.serverId && retries >= 3;
    $("conn-text").textContent = refused ? t("refused")
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

  // The live choropleth: geometry fetched once per set (the browser revalidates it by ETag),
  // colours and legend from the server's class breaks on every update.
  const CLASS_COLOURS = ["#1f4e6b", "#2f7d95", "#58a59a", "#d8a63a", "#e8603c"];
  const NO_DATA_COLOUR = "#2a3038";
  const SVG = "http://www.w3.org/2000/svg";
  const mapState = { set: null, loading: false, paths: new Map() };

  function loadMap(set) {
    if (mapState.set === set || mapState.loading) return;
    mapState.loading = true;
    fetch("/api/geo/" + encodeURIComponent(set) + "?zoom=13")
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
      .then((geo) => { drawMap(geo); mapState.set = set; renderMap(); })
      .catch((e) => console.warn("pantau: map not loaded:", e.message))
      .finally(() => { mapState.loading = false; });
  }

  function drawMap(geo) {
    const svg = $("map");
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
    mapState.paths.clear();
    const title = svg.querySelector("title");
    svg.replaceChildren(title);
    for (const f of geo.features) {
      const path = document.createElementNS(SVG, "path");
      const d = rings(f.geometry).map((ring) => "M" + ring.map(project).join("L") + "Z").join("");
      path.setAttribute("d", d);
      path.setAttribute("fill-rule", "evenodd");
      path.dataset.code = f.properties.kode;
      path.dataset.name = f.properties.nama;
      path.append(document.createElementNS(SVG, "title"));
      svg.append(path);
      mapState.paths.set(f.properties.kode, path);
    }
  }

  function classOf(value, breaks) {
    const i = breaks.findIndex((b) => value <= b);
    return i === -1 ? breaks.length : i;
  }

  function renderMap() {
    const layer = view.data && view.data.map;
    if (!layer) return;
    if (mapState.set !== layer.set) { loadMap(layer.set); return; }
    const breaks = layer.breaks || [];
    const colours = CLASS_COLOURS.slice(CLASS_COLOURS.length - (breaks.length + 1));
    for (const [code, path] of mapState.paths) {
      const value = layer.values[code];
      const known = typeof value === "number";
      path.setAttribute("fill", known ? colours[classOf(value, breaks)] : NO_DATA_COLOUR);
      path.querySelector("title").textContent = path.dataset.name + ": " +
        (known ? number(value) + " " + t("complaints") : t("no_data"));
    }
    const bounds = [0, ...breaks];
    const legend = colours.map((colour, i) => {
      const li = document.createElement("li");
      li.style.setProperty("--swatch", colour);
      const low = i === 0 ? bounds[0] : Math.floor(bounds[i]) + 1;
      const high = breaks[i];
      li.textContent = i >= breaks.length ? "≥ " + number(low)
        : low >= high ? number(high) : number(low) + "–" + number(high);
      return li;
    });
    const none = document.createElement("li");
    none.style.setProperty("--swatch", NO_DATA_COLOUR);
    none.textContent = t("no_data");
    $("legend").replaceChildren(...legend, none);
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

  let socket = null;
  let retries = 0;

  function connect() {
    // A wall screen's URL carries its token (?token=…); the page passes it on.
    const token = new URLSearchParams(location.search).get("token");
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" +
      (token ? "?token=" + encodeURIComponent(token) : "");
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => { view.lastMessageAt = Date.now(); };
    ws.onmessage = (event) => {
      view.lastMessageAt = Date.now();
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      handle(ws, msg);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      view.connection = "closed";
      render();
      tick();
      retries += 1;
      const delay = Math.min(30000, 1000 * 2 ** Math.min(retries - 1, 5)) * (0.8 + Math.random() * 0.4);
      setTimeout(connect, delay);
    };
  }

  function handle(ws, msg) {
    switch (msg.type) {
      case "hello":
        retries = 0;
        view.connection = "open";
        view.timeZone = msg.time_zone || view.timeZone;
        view.deployment = msg.deployment || null;
        // Resume: with the last seq the same server process sends nothing we already hold.
        // A restarted server numbers its topics anew, so then we ask for a fresh snapshot.
        const resume = view.data && view.serverId === msg.server_id;
        view.serverId = msg.server_id;
        ws.send(JSON.stringify({ type: "subscribe",
          topics: [{ topic: TOPIC, last_seq: resume ? view.seq : null }] }));
        reportScreen(ws);
        break;
      case "snapshot":
        if (msg.topic !== TOPIC) return;
        view.data = msg.data;
        view.seq = msg.seq;
        view.committedAt = msg.committed_at;
        break;
      case "patch":
        if (msg.topic !== TOPIC) return;
        if (msg.seq !== view.seq + 1) {
          // A gap: ask again without last_seq to get a fresh snapshot.
          ws.send(JSON.stringify({ type: "subscribe", topics: [{ topic: TOPIC }] }));
          return;
        }
        view.data = applyMerge(view.data, msg.merge);
        view.seq = msg.seq;
        view.committedAt = msg.committed_at;
        break;
      case "source_status":
        view.sources = msg.sources || [];
        break;
      case "bye":
      case "error":
        console.info("pantau:", msg.type, msg.reason || msg.code, msg.message || "");
        return;
      default:
        return;
    }
    render();
    tick();
  }

  // A wall screen is named in its URL (?screen=lobby-1): it reports itself so operators see at
  // /api/screens which screens are alive, stale or gone, and it reloads once a day at 04:00 local
  // time to keep browser memory flat over weeks of running.
  const SCREEN = new URLSearchParams(location.search).get("screen");
  const LOADED_AT = Date.now();

  function reportScreen(ws) {
    if (!SCREEN || !ws || ws.readyState !== WebSocket.OPEN) return;
    const age = view.committedAt ? Math.max(0, (Date.now() - new Date(view.committedAt)) / 1000) : null;
    ws.send(JSON.stringify({ type: "screen", name: SCREEN, page: "overview",
      data_age_s: age, stale: $("age").classList.contains("stale") }));
  }

  function dailyReload() {
    if (!SCREEN || Date.now() - LOADED_AT < 3600 * 1000) return;
    const hour = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hour12: false, timeZone: view.timeZone })
      .format(new Date());
    if (hour === "04") location.reload();
  }

  // Heartbeat: a connection that went quiet (sleeping laptop, dead proxy) is replaced.
  setInterval(() => {
    dailyReload();
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - view.lastMessageAt > SILENT_LIMIT_MS) {
      socket.close();
      return;
    }
    socket.send(JSON.stringify({ type: "ping", id: Date.now() }));
    reportScreen(socket);
  }, PING_EVERY_MS);

  $("lang").addEventListener("click", () => {
    view.lang = view.lang === "id" ? "en" : "id";
    localStorage.setItem("pantau.lang", view.lang);
    render();
    tick();
  });

  render();
  tick();
  setInterval(tick, 1000);
  connect();
})();
