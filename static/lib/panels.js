// Draws one dashboard panel's value into an element, for the wall, the overview and the tablet
// pages. Each panel kind is one module, `static/lib/kinds/{kind}.js`, exporting
// `draw(body, panel, value, ctx)`; a page loads the kinds its dashboard uses (`loadKinds`) before
// drawing, so a new kind is a new file there and nothing else here. Plain DOM and SVG, no
// third-party code.
"use strict";

const loaded = new Map(); // kind → its module

/** Loads the drawing modules of `kinds` (the page's panels' kinds); unknown kinds are skipped. */
export async function loadKinds(kinds) {
  await Promise.all([...new Set(kinds)].filter((k) => !loaded.has(k)).map(async (kind) => {
    if (!/^[a-z_]+$/.test(kind)) return;
    try {
      loaded.set(kind, await import("./kinds/" + kind + ".js"));
    } catch (e) {
      console.warn("pantau: no drawing for panel kind", kind, e.message);
    }
  }));
}

/** Renders `value` of `panel` into `body` (its kind loaded by `loadKinds`). */
export function renderPanel(body, panel, value, ctx) {
  body.dataset.kind = panel.kind;
  if (value === undefined || value === null) {
    if (!body.firstChild) {
      const waiting = document.createElement("p");
      waiting.className = "waiting";
      waiting.textContent = ctx.t("waiting");
      body.append(waiting);
    }
    return;
  }
  const kind = loaded.get(panel.kind);
  if (kind) kind.draw(body, panel, value, ctx);
}

