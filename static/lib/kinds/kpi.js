// The `kpi` panel kind (docs/dashboards.md, "Panel kinds"): a single number with its change against
// an earlier moment, red/amber/green and its other measures. Exports `draw(body, panel, value,
// ctx)`.
"use strict";

import { magnitude, measure, number } from "../format.js";
import { el, measureTitle, valueText } from "./shared.js";

export function draw(body, panel, v, ctx) {
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
