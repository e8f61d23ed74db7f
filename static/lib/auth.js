// How a page proves who it is: the token in its URL (?token=…, as a wall screen's link carries
// it) or the one this browser tab was given before. It goes as a bearer header on every API
// call, and as ?token=… where a header cannot be set (download links, the WebSocket).
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

/** `fetch` with the page's token; a 401 or 403 answer is left to the caller to explain. */
export function apiFetch(path, options = {}) {
  const t = token();
  const headers = new Headers(options.headers || {});
  if (t) headers.set("Authorization", "Bearer " + t);
  return fetch(path, { ...options, headers });
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
