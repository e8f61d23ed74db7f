// What the panel kinds' drawings share (static/lib/kinds/*.js): elements, units, measure titles,
// labels of groups and the texts of measure values.
"use strict";

import { isMoney, measure, pick } from "../format.js";

export const SVG = "http://www.w3.org/2000/svg";
export const SERIES_COLOURS = ["#4fb3d9", "#e8a33c", "#7bc67b", "#d66fb0", "#b0a3ff", "#e8603c"];
const PERCENT = new Set(["share", "serapan", "plan_pct", "sla_within_pct"]);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The unit shown after a measure's value. */
export function unitOf(panel, m, index) {
  if (panel.unit && index === panel.value_measure) return panel.unit;
  if (PERCENT.has(m.func)) return "%";
  if (m.func === "deviation") return "poin";
  if (m.func === "time_to_first_response" || (m.of && m.of.endsWith("_hours"))) return "jam";
  return "";
}

export function unitText(unit, ctx) {
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
export function measureTitle(m, ctx) {
  const title = pick(m.title, ctx.lang);
  if (title && title !== m.id) return title;
  return (ctx.t("measures") || {})[m.func] || m.id;
}

/** A group key or label as people read it: region names, lifecycle words, `unknown`. */
export function labelText(label, ctx) {
  if (label === "unknown") return ctx.t("unknown");
  if (ctx.regions && ctx.regions[label]) return ctx.regions[label];
  const lifecycle = ctx.t("status");
  return (lifecycle && lifecycle[label]) || label;
}

export function groupLabel(group, key, ctx) {
  const labels = group && group.labels ? Object.values(group.labels) : key.split(" | ");
  return labels.map((l) => labelText(l, ctx)).join(" · ");
}
