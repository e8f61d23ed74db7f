// The `table` panel kind (docs/dashboards.md, "Panel kinds"): the first rows of a query with their
// cells; rows new since the last draw are highlighted. Exports `draw(body, panel, value, ctx)`.
"use strict";

import { clock, dateTime, isMoney, measure, number } from "../format.js";
import { el, labelText } from "./shared.js";

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

export function draw(body, panel, v, ctx) {
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
