// The `map` panel kind (docs/dashboards.md, "Panel kinds"): a map layer: a choropleth, or rows as
// points, clusters or heat (static/lib/map.js draws it). Exports `draw(body, panel, value, ctx)`.
"use strict";

import { choropleth } from "../map.js";
import { SVG, el, measureTitle } from "./shared.js";

export function draw(body, panel, v, ctx) {
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
