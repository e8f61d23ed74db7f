// The `funnel` panel kind (docs/dashboards.md, "Panel kinds"): counts per lifecycle stage, in
// lifecycle order. Exports `draw(body, panel, value, ctx)`.
"use strict";

import { magnitude } from "../format.js";
import { el, labelText, valueText } from "./shared.js";

export function draw(body, panel, v, ctx) {
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
