// How a page proves who it is: the token in its URL (?token=…, as a wall screen's link carries
// it) or the one this browser tab was given before. It goes as a bearer header on every API
// call, and as ?token=… where a header cannot be set (download links, the WebSocket). Without
// a token, the browser's session cookie from /login/ does (sent by the browser itself); calls
// that change state then carry the session's CSRF token, and a refused call sends the person
// to /login/ and back.
"use strict";

const KEY = "pantau.token";

/** The page's token, or null when it has none (the server then decides by access.anonymous). */
export function token() {
  const given = new URLSearchParams(location.search).get("token");
  try {
    if (given) sessionStorage.setItem(KEY, given);
    return given || sessionStorage.getItem(KEY);
  } catch (e) {
    return given;
  }
}

/** A cookie's value, or null. */
function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return decodeURIComponent(value.join("="));
  }
  return null;
}

/** `path` when it is a path of this site (`/kpi/?x`), else null: never another site's address. */
export function sameSitePath(path) {
  return typeof path === "string" && path.startsWith("/") && !path.startsWith("//") && !path.includes("\\")
    ? path : null;
}

/** The login page, coming back here afterwards. */
export function loginUrl(reason) {
  const back = encodeURIComponent(location.pathname + location.search);
  return "/login/?next=" + back + (reason ? "&reason=" + reason : "");
}

/**
 * `fetch` with the page's token, or the session's cookie and CSRF token. On a page for people
 * (`<body data-login="redirect">`: the tablet, the map, the analyst page) without a token, a
 * 401 (no session, or it ended) and a 403 `password_change_required` go to the login page
 * unless `redirectOnRefusal: false`; wall screens and other refusals are left to the caller to
 * explain (a screen has no one to type a password).
 */
export async function apiFetch(path, options = {}) {
  const { redirectOnRefusal = true, ...rest } = options;
  const t = token();
  const headers = new Headers(rest.headers || {});
  if (t) headers.set("Authorization", "Bearer " + t);
  const method = (rest.method || "GET").toUpperCase();
  if (!t && !["GET", "HEAD", "OPTIONS"].includes(method)) {
    const csrf = cookie("pantau_csrf");
    if (csrf) headers.set("X-CSRF-Token", csrf);
  }
  const response = await fetch(path, { ...rest, headers, credentials: "same-origin" });
  const forPeople = document.body?.dataset.login === "redirect";
  if (!t && forPeople && redirectOnRefusal && (response.status === 401 || response.status === 403)) {
    const code = await response.clone().json().then((b) => b.error?.code).catch(() => "");
    if (response.status === 401 || code === "password_change_required") {
      location.assign(loginUrl(code === "session_expired" ? "expired" : ""));
      // The page is leaving: nothing after this call should run on a refusal.
      return new Promise(() => {});
    }
  }
  return response;
}

/** `url` with the page's token as a parameter, for links and the WebSocket. */
export function withToken(url) {
  const t = token();
  if (!t) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(t);
}

/** True for the answers of a missing, wrong or insufficient token. */
export function isRefusal(status) {
  return status === 401 || status === 403;
}
