// The login page: POST /api/session with a name and a password (the server sets the session's
// cookies), then the forced change of a one-time password, then back to the page that sent the
// person here (`?next=/kpi/`, same site only). Shows who is logged in, with a logout button.
"use strict";

import { apiFetch, sameSitePath } from "../lib/auth.js";
import { initialLang, switchLang } from "../lib/format.js";
import { applyWords, WORDS } from "../lib/words.js";

const byId = (id) => document.getElementById(id);
let lang = initialLang();
/** The page's words (`WORDS[lang].login`), with `{name}` places filled. */
const t = (key, values = {}) => {
  const text = WORDS[lang].login[key];
  if (typeof text !== "string") return text;
  return text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? "");
};

const next = sameSitePath(new URLSearchParams(location.search).get("next")) || "/";

function say(text, bad = false) {
  byId("message").textContent = text || "";
  byId("message").classList.toggle("bad", bad);
}

function show(card) {
  for (const id of ["login-card", "change-card", "who-card"]) byId(id).hidden = id !== card;
}

/** The message of an error answer, by its code where the page has words for it. */
async function problem(response) {
  const body = await response.json().catch(() => ({}));
  const code = body.error?.code || "";
  const wait = response.headers.get("Retry-After");
  const known = t("errors")?.[code];
  if (known) return known.replace("{secs}", wait || "?");
  // A password rule the server names, say: its own words are the precise ones.
  return body.error?.message || "HTTP " + response.status;
}

async function whoAmI() {
  const response = await apiFetch("/api/session", { redirectOnRefusal: false });
  if (!response.ok) return null;
  const me = await response.json();
  return me.via === "anonymous" ? null : me;
}

function signedIn(me) {
  if (me.must_change_password) {
    show("change-card");
    byId("current").focus();
    return;
  }
  const name = me.user?.display_name || me.name;
  byId("who").textContent = t("as", { name, role: me.role });
  byId("continue").href = next;
  show("who-card");
}

byId("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  say(t("working"));
  byId("login-button").disabled = true;
  try {
    const response = await apiFetch("/api/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: byId("name").value.trim(), password: byId("password").value }),
      redirectOnRefusal: false,
    });
    if (!response.ok) return say(await problem(response), true);
    const done = await response.json();
    byId("password").value = "";
    say("");
    if (done.must_change_password) return signedIn({ must_change_password: true });
    location.assign(next);
  } catch (e) {
    say(t("offline"), true);
  } finally {
    byId("login-button").disabled = false;
  }
});

byId("change-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (byId("new").value !== byId("repeat").value) return say(t("mismatch"), true);
  say(t("working"));
  const response = await apiFetch("/api/session/password", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ current: byId("current").value, new: byId("new").value }),
    redirectOnRefusal: false,
  }).catch(() => null);
  if (!response) return say(t("offline"), true);
  if (!response.ok) return say(await problem(response), true);
  for (const id of ["current", "new", "repeat"]) byId(id).value = "";
  say(t("changed"));
  location.assign(next);
});

byId("logout").addEventListener("click", async () => {
  const response = await apiFetch("/api/session", { method: "DELETE", redirectOnRefusal: false }).catch(() => null);
  if (response && (response.ok || response.status === 401)) {
    say(t("logged_out"));
    show("login-card");
  } else {
    say(response ? await problem(response) : t("offline"), true);
  }
});

byId("lang").addEventListener("click", () => {
  lang = switchLang(lang);
  draw();
});

function draw() {
  applyWords(document, lang);
  byId("lang").textContent = lang === "id" ? "EN" : "ID";
  document.title = "Pantau — " + t("title");
}

draw();
whoAmI().then((me) => (me ? signedIn(me) : show("login-card"))).catch(() => show("login-card"));
if (new URLSearchParams(location.search).get("reason") === "expired") say(t("expired"));
