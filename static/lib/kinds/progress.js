// The `progress` panel kind (docs/dashboards.md, "Panel kinds"): progress of each group against a
// target (and, for budgets, the disbursement plan). Exports `draw(body, panel, value, ctx)`.
"use strict";

import { magnitude } from "../format.js";
import { el, groupLabel, measureTitle, valueText } from "./shared.js";

export function draw(body, panel, v, ctx) {
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
