// Pantau analyst page: export any dataset (now or as of a time, filtered) or panel, preview rows,
// take snapshots and view one by its citable URL (/analyst/?snapshot=ID). API: docs/exports.md.
// Numbers, Rupiah, times and words come from the pages' shared modules (static/lib/).
"use strict";

import { apiFetch, withToken } from "/lib/auth.js";
import { clock, dateTime, initialLang, money, number as formatNumber, switchLang } from "/lib/format.js";
import { applyWords, WORDS } from "/lib/words.js";

{
  const WINDOWS = ["last 24h", "last 7d", "today", "yesterday", "this week", "this month", "this year", "this fiscal year"];

  const state = {
    lang: initialLang(),
    timeZone: "Asia/Jakarta",
    /** The export formats the server writes (`GET /api/datasets`). */
    formats: [],
    schemas: {},
    snapshotsBefore: null,
  };
  window.pantauAnalyst = state; // read by browser tests

  const $ = (id) => document.getElementById(id);
  const t = (key) => WORDS[state.lang].analyst[key] || key;
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
    return node;
  };
  const number = (n) => formatNumber(n, state.lang, 4);

  function whenText(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return dateTime(date, state.timeZone, state.lang, true);
  }

  // A cell as people read it: Rupiah exact, times in the zone, numbers grouped.
  function cellText(value, type) {
    if (value === null || value === undefined || value === "") return "";
    if (type === "rupiah") return money(String(value), state.lang);
    if (type === "timestamp") return whenText(value);
    if (type === "boolean") return value ? "✓" : "✗";
    if (typeof value === "number") return number(value);
    return String(value);
  }

  async function api(path, options) {
    const response = await apiFetch(path, options);
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
      throw new Error(message);
    }
    return body;
  }

  function say(id, text, bad) {
    const node = $(id);
    node.textContent = text || "";
    node.classList.toggle("bad", !!bad);
  }

  function applyLanguage() {
    applyWords(document, state.lang);
    $("lang").textContent = state.lang === "id" ? "EN" : "ID";
  }

  function tick() {
    $("clock").textContent = clock(new Date(), state.timeZone);
  }

  // ---- exports of a dataset -------------------------------------------------------------

  function currentSchema() {
    return state.schemas[$("dataset").value];
  }

  function addFilter() {
    const schema = currentSchema();
    if (!schema) return;
    const field = el("select", { class: "f-field" }, ...schema.fields.map((f) => el("option", { value: f.name }, f.name)));
    const test = el("select", { class: "f-test" }, ...["equals", "min", "max", "window"].map((x) => el("option", { value: x }, t(x))));
    const value = el("input", { class: "f-value", type: "text", maxlength: "200", list: "windows" });
    const row = el("div", { class: "filter" }, field, test, value,
      el("button", { type: "button", onclick: () => { row.remove(); refreshLink(); } }, t("remove")));
    for (const input of [field, test, value]) input.addEventListener("input", refreshLink);
    $("filters").append(row);
  }

  function renderColumns() {
    const schema = currentSchema();
    const box = $("columns");
    box.replaceChildren();
    if (!schema) return;
    const names = ["source", ...schema.fields.map((f) => f.name)].filter((v, i, a) => a.indexOf(v) === i);
    for (const name of names) {
      const input = el("input", { type: "checkbox", value: name, checked: "" });
      input.addEventListener("change", refreshLink);
      box.append(el("label", {}, input, " " + name));
    }
  }

  // The export URL the form describes (also the preview's, with format=json and a limit).
  function exportUrl(format, limit) {
    const dataset = $("dataset").value;
    const params = new URLSearchParams({ format });
    const asOf = $("as-of").value;
    if (asOf) params.set("as_of", asOf);
    const lim = limit || $("limit").value;
    if (lim) params.set("limit", lim);
    const boxes = [...$("columns").querySelectorAll("input")];
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    if (chosen.length && chosen.length < boxes.length) params.set("columns", chosen.join(","));
    for (const row of $("filters").querySelectorAll(".filter")) {
      const field = row.querySelector(".f-field").value;
      const test = row.querySelector(".f-test").value;
      const value = row.querySelector(".f-value").value;
      if (value === "") continue;
      params.append(test === "equals" ? `filter.${field}` : `filter.${field}.${test}`, value);
    }
    return withToken(`/api/datasets/${encodeURIComponent(dataset)}/export?${params}`);
  }

  function refreshLink() {
    $("download").href = exportUrl($("format").value);
  }

  function renderTable(columns, rows, into) {
    const head = el("tr", {}, ...columns.map((c) => el("th", { title: c.type }, c.name)));
    const body = rows.map((row) => el("tr", {}, ...columns.map((c) => {
      const value = Array.isArray(row) ? row[columns.indexOf(c)] : row[c.name];
      return el("td", { class: c.type === "string" ? "" : "num" }, cellText(value, c.type));
    })));
    const table = el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, ...body));
    into.replaceChildren(table);
  }

  async function preview() {
    say("export-message", t("loading"));
    try {
      const response = await apiFetch(exportUrl("json", Math.min(Number($("limit").value) || 50, 200)));
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new Error(body && body.error ? body.error.message : `HTTP ${response.status}`);
      }
      const total = response.headers.get("x-pantau-rows");
      const doc = await response.json();
      renderTable(doc.columns, doc.rows, $("preview-out"));
      say("export-message", doc.rows.length ? t("showing").replace("{n}", doc.rows.length).replace("{total}", total) : t("no_rows"));
    } catch (e) {
      $("preview-out").replaceChildren();
      say("export-message", e.message, true);
    }
  }

  async function snapshotDataset() {
    const filter = [];
    for (const row of $("filters").querySelectorAll(".filter")) {
      const field = row.querySelector(".f-field").value;
      const test = row.querySelector(".f-test").value;
      let value = row.querySelector(".f-value").value;
      if (value === "") continue;
      const type = (currentSchema().fields.find((f) => f.name === field) || {}).type;
      if (type === "integer" || type === "float") value = Number(value);
      if (type === "boolean") value = value === "true";
      filter.push({ field, [test === "equals" ? "equals" : test]: value });
    }
    const boxes = [...$("columns").querySelectorAll("input")];
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    const body = {
      dataset: $("dataset").value,
      filter,
      description: $("snap-description").value,
      created_by: $("snap-by").value || undefined,
    };
    if ($("as-of").value) body.as_of = $("as-of").value;
    if (chosen.length < boxes.length) body.columns = chosen;
    await takeSnapshot(body, "export-message");
  }

  async function takeSnapshot(body, messageId) {
    try {
      const record = await api("/api/snapshots", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      });
      say(messageId, t("taken").replace("{id}", record.id));
      const link = el("a", { href: record.view }, record.id);
      $(messageId).append(" ", link);
      state.snapshotsBefore = null;
      await loadSnapshots(false);
    } catch (e) {
      say(messageId, e.message, true);
    }
  }

  // ---- dashboards and panels --------------------------------------------------------------

  function formatLinks(base, extra) {
    return el("span", { class: "links" }, ...state.formats.map((f) => el("a", { href: withToken(`${base}?format=${f.name}${extra || ""}`), title: f.description }, f.name)));
  }

  async function loadDashboards() {
    const { dashboards } = await api("/api/dashboards");
    const box = $("dashboards");
    box.replaceChildren();
    for (const d of dashboards) {
      const full = await api(`/api/dashboards/${encodeURIComponent(d.id)}`);
      const message = el("span", { class: "message" });
      message.id = `msg-${d.id}`;
      const list = el("ul", { class: "panels" }, ...full.panels.map((p) => {
        const base = `/api/dashboards/${encodeURIComponent(d.id)}/panels/${encodeURIComponent(p.id)}/export`;
        return el("li", {},
          el("strong", {}, p.title[state.lang] || p.id), ` (${p.kind}) `,
          el("span", { class: "muted" }, t("result") + ": "), formatLinks(base),
          p.query ? el("span", {}, el("span", { class: "muted" }, " · " + t("rows_behind") + ": "), formatLinks(base, "&scope=rows")) : "");
      }));
      const button = el("button", { type: "button", onclick: () => takeSnapshot({ dashboard: d.id, description: $("snap-description").value, created_by: $("snap-by").value || undefined }, message.id) }, t("snapshot_dashboard"));
      box.append(el("details", {}, el("summary", {}, d.title[state.lang] || d.id, " ", el("code", {}, d.id)), button, " ", message, list));
    }
  }

  // ---- snapshots --------------------------------------------------------------------------

  async function loadSnapshots(more) {
    const params = new URLSearchParams({ limit: "20" });
    if (more && state.snapshotsBefore) params.set("before", state.snapshotsBefore);
    const page = await api(`/api/snapshots?${params}`);
    const body = $("snapshots").querySelector("tbody");
    if (!more) body.replaceChildren();
    for (const s of page.snapshots) {
      body.append(el("tr", {},
        el("td", {}, el("a", { href: s.view }, s.id)),
        el("td", {}, `${t("kind_" + s.kind)}: ${s.target}`),
        el("td", {}, whenText(s.as_of)),
        el("td", {}, s.created_by),
        el("td", {}, s.description),
        el("td", { class: "num" }, number(s.rows))));
    }
    state.snapshotsBefore = page.next_before;
    $("more-snapshots").hidden = !page.next_before;
  }

  async function showSnapshot(id) {
    $("home").hidden = true;
    $("snapshot-view").hidden = false;
    $("snap-id").textContent = id;
    let s;
    try {
      s = await api(`/api/snapshots/${encodeURIComponent(id)}`);
    } catch (e) {
      say("snap-message", `${t("not_found")} ${e.message}`, true);
      return;
    }
    state.snapshot = s;
    if (s.time_zone) state.timeZone = s.time_zone;
    const meta = $("snap-meta");
    meta.replaceChildren();
    const fact = (key, value) => meta.append(el("dt", {}, t(key)), el("dd", {}, value));
    fact("target", `${t("kind_" + s.kind)}: ${s.target}`);
    fact("as_of_short", whenText(s.as_of));
    fact("created_at", whenText(s.created_at));
    fact("created_by_short", s.created_by);
    fact("description_short", s.description || "—");
    fact("rows", number(s.rows));
    fact("store_seq", String(s.store_seq));
    fact("sha256", s.sha256);
    if (s.kind === "dataset") {
      fact("request", JSON.stringify(s.request.filter || []));
      $("snap-exports").replaceChildren(formatLinks(`/api/snapshots/${encodeURIComponent(s.id)}/export`));
      try {
        const doc = await api(`/api/snapshots/${encodeURIComponent(s.id)}/export?format=json&limit=200`);
        const wrap = el("div", { class: "table-wrap" });
        $("snap-body").replaceChildren(el("section", { class: "card" }, wrap));
        renderTable(doc.columns, doc.rows, wrap);
      } catch (e) {
        say("snap-message", e.message, true);
      }
      return;
    }
    $("snap-exports").replaceChildren();
    const sections = s.panels.map((p) => {
      const wrap = el("div", { class: "table-wrap" });
      const rows = p.table.rows.map((row) => row.map((v, i) => toShown(v, p.table.columns[i].type)));
      if (p.value === null) wrap.append(el("p", { class: "muted" }, t("panel_empty")));
      else renderTable(p.table.columns, rows, wrap);
      const base = `/api/snapshots/${encodeURIComponent(s.id)}/export`;
      return el("section", { class: "card panel", id: `panel-${p.id}` },
        el("h3", {}, p.title[state.lang] || p.id, " ", el("small", { class: "muted" }, p.kind)),
        formatLinks(base, `&panel=${encodeURIComponent(p.id)}`), wrap);
    });
    $("snap-body").replaceChildren(...sections);
  }

  // A frozen table cell (seconds, sen, micro-degrees as stored) in the form cellText reads.
  function toShown(value, type) {
    if (value === null) return null;
    if (type === "timestamp") return new Date(value * 1000).toISOString();
    if (type === "rupiah") {
      const sen = BigInt(value);
      const abs = sen < 0n ? -sen : sen;
      return `${sen < 0n ? "-" : ""}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
    }
    if (type === "boolean") return value !== 0;
    if (type === "coordinate") return value / 1e6;
    return value;
  }

  // ---- start ------------------------------------------------------------------------------

  async function start() {
    applyLanguage();
    $("lang").addEventListener("click", () => {
      state.lang = switchLang(state.lang);
      location.reload();
    });
    $("copy-link").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(location.href);
      } catch (_) { /* the URL bar holds it too */ }
      say("snap-message", t("copied"));
    });
    const datalist = el("datalist", { id: "windows" }, ...WINDOWS.map((w) => el("option", { value: w })));
    document.body.append(datalist);
    const info = await api("/api/datasets");
    if (info.time_zone) state.timeZone = info.time_zone;
    state.formats = info.formats || [];
    $("format").replaceChildren(...state.formats.map((f) => el("option", { value: f.name, title: f.description }, f.name)));
    tick();
    setInterval(tick, 10000);
    const id = new URLSearchParams(location.search).get("snapshot");
    if (id) {
      await showSnapshot(id);
      state.ready = true;
      return;
    }
    for (const d of info.datasets) {
      state.schemas[d.name] = await api(`/api/datasets/${encodeURIComponent(d.name)}/schema`);
      $("dataset").append(el("option", { value: d.name }, `${d.name} (${number(d.rows)})`));
    }
    $("dataset").addEventListener("change", () => { $("filters").replaceChildren(); renderColumns(); refreshLink(); });
    for (const id of ["as-of", "limit", "format"]) $(id).addEventListener("input", refreshLink);
    $("add-filter").addEventListener("click", () => { addFilter(); refreshLink(); });
    $("preview").addEventListener("click", preview);
    $("snap-dataset").addEventListener("click", snapshotDataset);
    $("more-snapshots").addEventListener("click", () => loadSnapshots(true));
    renderColumns();
    refreshLink();
    await Promise.all([loadDashboards(), loadSnapshots(false)]);
    state.ready = true;
  }

  start().catch((e) => { say("export-message", e.message, true); state.error = e.message; });
}
