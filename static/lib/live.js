// The pages' side of the live protocol (docs/protocol.md, version 1): one WebSocket that follows
// topics and topic prefixes, applies snapshots and merge patches in sequence, resumes after a
// dropped connection, notices a silent one, reports a named screen to operators and reloads a
// screen once a day so that weeks of running keep browser memory flat.
"use strict";

import { withToken } from "./auth.js";

const PING_EVERY_MS = 15000;
const SILENT_LIMIT_MS = 45000;
const RELOAD_HOUR = "04";

/** RFC 7396 merge patch, as the server builds it. */
export function applyMerge(target, patch) {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out = target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMerge(out[key], value);
  }
  return out;
}

/**
 * Opens the connection and keeps it open.
 *
 * - `prefixes`, `topics`: what to follow (see `follow` to change it later);
 * - `onChange(what)`: called after every change, `what` is a topic name, `"sources"` or
 *   `"connection"`;
 * - `screen`: `{ name, page, report() → { data_age_s, stale } }` for a named wall screen, or null.
 */
export function startLive({ prefixes = [], topics = [], onChange = () => {}, screen = null }) {
  const live = {
    connection: "connecting",
    /** True when hello never came after several tries: most likely a refused token or origin. */
    refused: false,
    serverId: null,
    timeZone: "Asia/Jakarta",
    deployment: null,
    /** name → { seq, data, committedAt } */
    topics: new Map(),
    /** The latest `source_status` list. */
    sources: [],
    /** Bytes of messages received (the tablet's first-view budget counts them). */
    bytes: 0,
    /** topic → the latest `features` message (a map view). */
    features: new Map(),
    follow,
    /** Asks for the features of a followed map topic inside `bbox` at `zoom` (sent again on reconnect). */
    view(topic, bbox, zoom) {
      views.set(topic, { bbox, zoom });
      send({ type: "view", topic, bbox, zoom });
    },
    /** Sends the screen's report now (the page calls it when its stale state turns). */
    report: () => reportScreen(),
  };
  let wanted = { prefixes: [...prefixes], topics: [...topics] };
  const views = new Map(); // topic → { bbox, zoom }
  let socket = null;
  let retries = 0;
  let lastMessageAt = 0;
  const loadedAt = Date.now();

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  const followed = (name) => wanted.topics.includes(name) || wanted.prefixes.some((p) => name.startsWith(p));

  /** Follows `prefixes` and `topics` instead of what was followed so far. */
  function follow(next) {
    const gone = { prefixes: wanted.prefixes.filter((p) => !next.prefixes.includes(p)),
      topics: wanted.topics.filter((t) => !next.topics.includes(t)) };
    wanted = { prefixes: [...next.prefixes], topics: [...next.topics] };
    if (gone.prefixes.length || gone.topics.length) send({ type: "unsubscribe", ...gone });
    for (const name of [...live.topics.keys()]) if (!followed(name)) live.topics.delete(name);
    subscribe(true);
  }

  /** Asks for what is wanted; with `resume`, the seqs held, so nothing already held is resent. */
  function subscribe(resume) {
    const held = [];
    for (const [topic, state] of live.topics) {
      if (followed(topic)) held.push({ topic, last_seq: resume ? state.seq : null });
    }
    const explicit = wanted.topics.filter((t) => !live.topics.has(t)).map((topic) => ({ topic }));
    send({ type: "subscribe", prefixes: wanted.prefixes, topics: [...held, ...explicit] });
  }

  function connect() {
    // A wall screen's URL carries its token (?token=…); the page passes it on.
    const url = withToken((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => { lastMessageAt = Date.now(); };
    ws.onmessage = (event) => {
      lastMessageAt = Date.now();
      live.bytes += event.data.length;
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      live.connection = "closed";
      retries += 1;
      live.refused = !live.serverId && retries >= 3;
      onChange("connection");
      const delay = Math.min(30000, 1000 * 2 ** Math.min(retries - 1, 5)) * (0.8 + Math.random() * 0.4);
      setTimeout(connect, delay);
    };
  }

  function handle(message) {
    switch (message.type) {
      case "hello": {
        retries = 0;
        live.refused = false;
        live.connection = "open";
        live.timeZone = message.time_zone || live.timeZone;
        live.deployment = message.deployment || null;
        // The same server process resends nothing held; a restarted one numbers its topics
        // anew, so then every topic comes as a fresh snapshot (the old values stay on screen
        // until it arrives).
        const sameServer = live.serverId === message.server_id;
        live.serverId = message.server_id;
        subscribe(sameServer);
        for (const [topic, v] of views) send({ type: "view", topic, bbox: v.bbox, zoom: v.zoom });
        reportScreen();
        onChange("connection");
        return;
      }
      case "snapshot":
        if (!followed(message.topic)) return;
        live.topics.set(message.topic, { seq: message.seq, data: message.data, committedAt: message.committed_at });
        onChange(message.topic);
        return;
      case "patch": {
        const held = live.topics.get(message.topic);
        if (!held || !followed(message.topic)) return;
        if (message.seq !== held.seq + 1) {
          // A gap: ask again without last_seq for a fresh snapshot.
          send({ type: "subscribe", topics: [{ topic: message.topic }] });
          return;
        }
        live.topics.set(message.topic, {
          seq: message.seq, data: applyMerge(held.data, message.merge), committedAt: message.committed_at,
        });
        onChange(message.topic);
        return;
      }
      case "removed":
        live.topics.delete(message.topic);
        onChange(message.topic);
        return;
      case "features":
        live.features.set(message.topic, message);
        onChange("features:" + message.topic);
        return;
      case "source_status":
        live.sources = message.sources || [];
        onChange("sources");
        return;
      case "bye":
      case "error":
        console.info("pantau:", message.type, message.reason || message.code, message.message || "");
        return;
      default:
        return;
    }
  }

  function reportScreen() {
    if (!screen || !screen.name) return;
    send({ type: "screen", name: screen.name, page: screen.page, ...screen.report() });
  }

  // Heartbeat: a connection that went quiet (sleeping laptop, dead proxy) is replaced; a named
  // screen reloads once a day at 04:00 local time, when nobody watches.
  setInterval(() => {
    if (screen && screen.name && Date.now() - loadedAt > 3600 * 1000) {
      const hour = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hour12: false, timeZone: live.timeZone })
        .format(new Date());
      if (hour === RELOAD_HOUR && live.connection === "open") location.reload();
    }
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastMessageAt > SILENT_LIMIT_MS) {
      socket.close();
      return;
    }
    send({ type: "ping", id: Date.now() });
    reportScreen();
  }, PING_EVERY_MS);

  connect();
  return live;
}
