// The `source_health` panel kind (docs/dashboards.md, "Panel kinds"): the sources' health: state,
// last success and rows per source. Exports `draw(body, panel, value, ctx)`.
"use strict";

import { age, number } from "../format.js";
import { el } from "./shared.js";

export function draw(body, panel, v, ctx) {
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
