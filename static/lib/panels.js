// Draws one dashboard panel's value (docs/dashboards.md, "Panel kinds") into an element: kpi,
// timeseries, breakdown, progress, funnel, table, map and source_health. Used by the wall and
// the tablet pages; plain DOM and SVG, no third-party code.
"use strict";

import { age, clock, dateTime, isMoney, magnitude, measure, number, pick } from "./format.js";
import { choropleth } from "./map.js";

const SVG = "http://www.w3.org/2000/svg";
const SERIES_COLOURS = ["#4fb3d9", "#e8a33c", "#7bc67b", "#d66fb0", "#b0a3ff", "#e8603c"];
const PERCENT = new Set(["share", "serapan", "plan_pct", "sla_within_pct"]);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The unit shown after a measure's value. */
function unitOf(panel, m, index) {
  if (panel.unit && index === panel.value_measure) return panel.unit;
  if (PERCENT.has(m.func)) return "%";
  if (m.func === "deviation") return "poin";
  if (m.func === "time_to_first_response" || (m.of && m.of.endsWith("_hours"))) return "jam";
  return "";
}

function unitText(unit, ctx) {
  if (ctx.lang === "en") return { jam: "h", poin: "pts" }[unit] || unit;
  return unit;
}

/** A measure's value with its unit: `12,5 %`, `Rp 1.234.567`, `3,2 jam`. */
export function valueText(panel, index, value, ctx) {
  const m = panel.query.measures[index];
  if (value === null || value === undefined) return "—";
  const unit = unitText(unitOf(panel, m, index), ctx);
  const text = measure(value, ctx.lang);
  if (!unit || isMoney(value)) return text;
  return unit === "%" ? text + " %" : text + " " + unit;
}

/** A measure's title; one the file did not give (the server then uses the id) is named by its function. */
function measureTitle(m, ctx) {
  const title = pick(m.title, ctx.lang);
  if (title && title !== m.id) return title;
  return (ctx.t("measures") || {})[m.func] || m.id;
}

/** A group key or label as people read it: region names, lifecycle words, `unknown`. */
function labelText(label, ctx) {
  if (label === "unknown") return ctx.t("unknown");
  if (ctx.regions && ctx.regions[label]) return ctx.regions[label];
  const lifecycle = ctx.t("status");
  return (lifecycle && lifecycle[label]) || label;
}

function groupLabel(group, key, ctx) {
  const labels = group && group.labels ? Object.values(group.labels) : key.split(" | ");
  return labels.map((l) => labelText(l, ctx)).join(" · ");
}

/** Renders `value` of `panel` into `body`. */
export function renderPanel(body, panel, value, ctx) {
  body.dataset.kind = panel.kind;
  if (value === undefined || value === null) {
    if (!body.firstChild) body.append(el("p", "waiting", ctx.t("waiting")));
    return;
  }
  const draw = { kpi, timeseries, breakdown, progress, funnel, table, map, source_health: sourceHealth }[panel.kind];
  if (draw) draw(body, panel, value, ctx);
}

function kpi(body, panel, v, ctx) {
  const box = el("div", "kpi" + (v.status ? " rag-" + v.status : ""));
  const main = el("div", "kpi-value", valueText(panel, panel.value_measure, v.value, ctx));
  main.dataset.raw = v.value === null || v.value === undefined ? "" : String(v.value);
  box.append(main);
  if (v.status) box.append(el("div", "kpi-rag", ctx.t("rag")[v.status]));
  if (v.change !== undefined && v.change !== null) {
    const up = magnitude(v.change) > 0;
    const down = magnitude(v.change) < 0;
    const better = panel.thresholds ? panel.thresholds.higher_is_better : null;
    const tone = better === null || (!up && !down) ? "" : (up === better ? " good" : " bad");
    const arrow = up ? "▲ " : down ? "▼ " : "＝ ";
    const pct = typeof v.change_pct === "number" ? " (" + (v.change_pct > 0 ? "+" : "") + number(v.change_pct, ctx.lang) + " %)" : "";
    const change = el("div", "kpi-change" + tone, arrow + measure(v.change, ctx.lang) + pct);
    change.title = ctx.t("previous", { v: valueText(panel, panel.value_measure, v.previous, ctx) });
    box.append(change);
  }
  const more = el("ul", "kpi-more");
  panel.query.measures.forEach((m, i) => {
    if (i === panel.value_measure || !v.measures) return;
    more.append(el("li", "", measureTitle(m, ctx) + ": " + valueText(panel, i, v.measures[m.id], ctx)));
  });
  if (v.target !== undefined && v.target !== null) {
    more.append(el("li", "kpi-target", ctx.t("target", { v: valueText(panel, panel.value_measure, v.target, ctx) })));
  }
  if (more.childElementCount) box.append(more);
  body.replaceChildren(box);
}

function timeseries(body, panel, v, ctx) {
  const m = panel.query.measures[0];
  const buckets = Object.keys(v.points || {}).sort();
  const bySeries = panel.query.group_by.length > 0;
  // Series: the largest first, at most five named, the rest summed as "other".
  const totals = new Map();
  if (bySeries) {
    for (const b of buckets) for (const [s, ms] of Object.entries(v.points[b] || {})) {
      totals.set(s, (totals.get(s) || 0) + (magnitude(ms[m.id]) || 0));
    }
  }
  const named = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([s]) => s);
  const stacks = buckets.map((b) => {
    const point = v.points[b] || {};
    if (!bySeries) return [magnitude(point[m.id]) || 0];
    const parts = named.map((s) => magnitude((point[s] || {})[m.id]) || 0);
    const rest = Object.entries(point).filter(([s]) => !named.includes(s))
      .reduce((sum, [, ms]) => sum + (magnitude(ms[m.id]) || 0), 0);
    return [...parts, rest];
  });
  const max = Math.max(1, ...stacks.map((s) => s.reduce((a, b) => a + b, 0)));
  const width = 1000;
  const height = 300;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.classList.add("bars");
  const step = width / Math.max(1, stacks.length);
  stacks.forEach((stack, i) => {
    let y = height;
    stack.forEach((part, j) => {
      if (part <= 0) return;
      const h = (part / max) * (height - 4);
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", (i * step + step * 0.1).toFixed(1));
      rect.setAttribute("width", (step * 0.8).toFixed(1));
      rect.setAttribute("y", (y - h).toFixed(1));
      rect.setAttribute("height", h.toFixed(1));
      rect.setAttribute("fill", bySeries ? SERIES_COLOURS[j % SERIES_COLOURS.length] : SERIES_COLOURS[0]);
      const title = document.createElementNS(SVG, "title");
      title.textContent = buckets[i].replace("T", " ") + ": " + number(part, ctx.lang);
      rect.append(title);
      svg.append(rect);
      y -= h;
    });
  });
  const axis = el("div", "axis");
  const tickAt = [0, Math.floor((buckets.length - 1) / 2), buckets.length - 1];
  for (const i of [...new Set(tickAt)].filter((i) => i >= 0)) {
    axis.append(el("span", "", bucketText(buckets[i], v.bucket, ctx)));
  }
  const latest = buckets.length ? stacks[stacks.length - 1].reduce((a, b) => a + b, 0) : null;
  const head = el("div", "series-head");
  head.append(el("span", "series-latest", latest === null ? "—" : number(latest, ctx.lang)),
    el("span", "series-max", "maks " + number(max, ctx.lang)));
  const parts = [head, svg, axis];
  if (bySeries) {
    const legend = el("ul", "series-legend");
    [...named, ctx.t("other", { n: "" }).replace(" ()", "")].forEach((s, j) => {
      const li = el("li", "", j < named.length ? labelText(s, ctx) : s);
      li.style.setProperty("--swatch", SERIES_COLOURS[j % SERIES_COLOURS.length]);
      legend.append(li);
    });
    parts.push(legend);
  }
  body.replaceChildren(...parts);
}

/** A bucket's start (local time, as the server names it) in few characters. */
function bucketText(key, size, ctx) {
  if (!key) return "";
  const [day, time] = key.split("T");
  if (size === "minute" || size === "hour") return (time || "").slice(0, 5);
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d || 1));
  const parts = size === "month" ? { month: "short", year: "2-digit" } : { day: "numeric", month: "short" };
  return new Intl.DateTimeFormat(ctx.lang === "id" ? "id-ID" : "en-GB", { ...parts, timeZone: "UTC" }).format(date);
}

/** The measure groups are ranked by: the sort measure, else the first. */
function rankMeasure(panel) {
  const measures = panel.query.measures;
  const id = panel.sort ? panel.sort[0] : null;
  const i = measures.findIndex((m) => m.id === id);
  return i === -1 ? 0 : i;
}

function breakdown(body, panel, v, ctx) {
  const measures = panel.query.measures;
  if (!(v.order || []).length) {
    body.replaceChildren(el("p", "empty", ctx.t("no_rows")));
    return;
  }
  const lead = rankMeasure(panel);
  const order = v.order || [];
  const max = Math.max(1e-9, ...order.map((k) => Math.abs(magnitude(v.groups[k].measures[measures[lead].id]) || 0)));
  const list = el("table", "rank");
  const head = el("tr");
  head.append(el("th", "", ""), el("th", "bar-cell", ""));
  measures.forEach((m) => head.append(el("th", "num", measureTitle(m, ctx))));
  const thead = el("thead");
  thead.append(head);
  list.append(thead);
  const rows = el("tbody");
  const row = (label, ms, rowClass) => {
    const tr = el("tr", rowClass);
    tr.append(el("td", "label", label));
    const bar = el("td", "bar-cell");
    const fill = el("span", "bar");
    fill.style.width = (100 * Math.abs(magnitude(ms[measures[lead].id]) || 0) / max).toFixed(1) + "%";
    bar.append(fill);
    tr.append(bar);
    measures.forEach((m, i) => tr.append(el("td", "num", valueText(panel, i, ms[m.id], ctx))));
    return tr;
  };
  for (const key of order) {
    const g = v.groups[key];
    const tr = row(groupLabel(g, key, ctx), g.measures || {}, "");
    tr.dataset.key = key;
    rows.append(tr);
  }
  if (v.other) rows.append(row(ctx.t("other", { n: number(v.other.groups, ctx.lang) }), v.other.measures || {}, "other"));
  list.append(rows);
  body.replaceChildren(list);
}

function progress(body, panel, v, ctx) {
  const measures = panel.query.measures;
  const value = panel.value_measure;
  const order = v.order || [];
  const target = typeof v.target === "number" ? v.target : null;
  const scale = Math.max(100, target || 0, ...order.map((k) => magnitude(v.groups[k].value) || 0));
  const list = el("ul", "progress");
  for (const key of order) {
    const g = v.groups[key];
    const li = el("li", g.status ? "rag-" + g.status : "");
    li.dataset.key = key;
    const label = el("span", "label", groupLabel(g, key, ctx));
    const track = el("span", "track");
    const fill = el("span", "fill");
    fill.style.width = (100 * Math.max(0, magnitude(g.value) || 0) / scale).toFixed(1) + "%";
    track.append(fill);
    if (target !== null) {
      const mark = el("span", "target");
      mark.style.left = (100 * target / scale).toFixed(1) + "%";
      track.append(mark);
    }
    // Budget absorption against its own disbursement plan: the plan marked on each bar.
    const plan = measures.find((m) => m.func === "plan_pct");
    const planned = plan ? magnitude((g.measures || {})[plan.id]) : NaN;
    if (Number.isFinite(planned)) {
      const mark = el("span", "plan");
      mark.style.left = (100 * Math.max(0, planned) / scale).toFixed(1) + "%";
      mark.title = measureTitle(plan, ctx) + " " + valueText(panel, measures.indexOf(plan), planned, ctx);
      track.append(mark);
    }
    const figure = el("span", "num", valueText(panel, value, g.value, ctx));
    const rest = measures.map((m, i) => (i === value ? null : measureTitle(m, ctx) + " " + valueText(panel, i, (g.measures || {})[m.id], ctx)))
      .filter(Boolean).join(" · ");
    li.title = rest;
    const detail = el("span", "detail", rest);
    li.append(label, track, figure, detail);
    list.append(li);
  }
  body.replaceChildren(list);
}

function funnel(body, panel, v, ctx) {
  const m = panel.query.measures[0];
  const order = v.order || Object.keys(v.stages || {});
  const max = Math.max(1, ...order.map((s) => magnitude((v.stages[s] || {})[m.id]) || 0));
  const list = el("ul", "funnel");
  for (const stage of order) {
    const n = magnitude((v.stages[stage] || {})[m.id]) || 0;
    const li = el("li", "stage " + stage);
    li.dataset.key = stage;
    const bar = el("span", "bar");
    bar.style.width = (100 * n / max).toFixed(1) + "%";
    li.append(el("span", "label", labelText(stage, ctx)), bar, el("span", "num", valueText(panel, 0, n, ctx)));
    list.append(li);
  }
  body.replaceChildren(list);
}

function cellText(column, value, ctx) {
  if (value === null || value === undefined) return "—";
  if (column.endsWith("_at") && typeof value === "string") {
    const when = new Date(value);
    const today = new Date().toDateString() === when.toDateString();
    return today ? clock(when, ctx.zone) : dateTime(when, ctx.zone, ctx.lang);
  }
  if (typeof value === "string") return isMoney(value) ? measure(value, ctx.lang) : labelText(value, ctx);
  if (typeof value === "boolean") return value ? "✓" : "—";
  return number(value, ctx.lang);
}

function table(body, panel, v, ctx) {
  const columns = panel.columns || [];
  if (!(v.order || []).length) {
    body.replaceChildren(el("p", "empty", ctx.t("no_rows")));
    return;
  }
  const seen = body._seen || new Set();
  const grid = el("table", "rows");
  const rows = el("tbody");
  for (const key of v.order || []) {
    const row = v.rows[key] || {};
    const tr = el("tr", seen.size && !seen.has(key) ? "fresh" : "");
    tr.dataset.key = key;
    for (const c of columns) {
      const td = el("td", "c-" + c);
      const text = cellText(c, row[c], ctx);
      if (c === "status" || c === "outcome") td.append(el("span", "pill " + row[c], text));
      else td.textContent = text;
      tr.append(td);
    }
    rows.append(tr);
  }
  body._seen = new Set(v.order || []);
  grid.append(rows);
  body.replaceChildren(grid);
}

function map(body, panel, v, ctx) {
  if (!body._map) {
    const svg = document.createElementNS(SVG, "svg");
    svg.classList.add("map");
    svg.setAttribute("role", "img");
    const legend = el("ul", "legend");
    body.replaceChildren(svg, legend);
    body._map = choropleth(svg, legend);
  }
  // A choropleth names its measure; a layer of rows counts complaints.
  const m = panel.query.measures.find((x) => x.id === v.measure) || panel.query.measures[0];
  const unit = m ? measureTitle(m, ctx).toLowerCase() : ctx.t("complaints");
  body._map.update(v, { unit, noData: ctx.t("no_data"), status: ctx.t("status"), total: ctx.t("total") }, ctx.lang);
}

function sourceHealth(body, panel, v, ctx) {
  const list = el("ul", "health");
  const now = Date.now();
  for (const s of Object.values(v.sources || {}).sort((a, b) => a.id.localeCompare(b.id))) {
    const li = el("li", "state-" + s.state);
    li.dataset.key = s.id;
    const since = s.last_success ? ctx.t("last_success", { age: age((now - new Date(s.last_success)) / 1000, ctx.lang) })
      : ctx.t("never");
    li.append(el("span", "dot"), el("span", "label", s.id), el("span", "state", ctx.t("sources")[s.state] || s.state),
      el("span", "detail", since + " · " + number(s.rows_in, ctx.lang)));
    if (s.last_error) li.title = s.last_error;
    list.append(li);
  }
  body.replaceChildren(list);
}
