// The `timeseries` panel kind (docs/dashboards.md, "Panel kinds"): values per time bucket as bars,
// stacked by series when split by a field. Exports `draw(body, panel, value, ctx)`.
"use strict";

import { magnitude, number } from "../format.js";
import { SERIES_COLOURS, SVG, el, labelText } from "./shared.js";

export function draw(body, panel, v, ctx) {
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
