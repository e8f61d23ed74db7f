// The `breakdown` panel kind (docs/dashboards.md, "Panel kinds"): values per group, ranked, with a
// bar for the ranking measure and the rest as `other`. Exports `draw(body, panel, value, ctx)`.
"use strict";

import { magnitude, number } from "../format.js";
import { el, groupLabel, measureTitle, valueText } from "./shared.js";

/** The measure groups are ranked by: the sort measure, else the first. */
function rankMeasure(panel) {
  const measures = panel.query.measures;
  const id = panel.sort ? panel.sort[0] : null;
  const i = measures.findIndex((m) => m.id === id);
  return i === -1 ? 0 : i;
}

export function draw(body, panel, v, ctx) {
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
