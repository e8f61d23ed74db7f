// Number, money, duration and time formats of the pages: id-ID (Bahasa Indonesia) by default,
// en-GB in English; times in the deployment's zone (WIB by default); Rupiah exact.
"use strict";

export const ZONE_NAMES = { "Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT" };

/** The page language: `?lang=` first, then the last choice on this device, else Bahasa Indonesia. */
export function initialLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "id" || asked === "en") return asked;
  return localStorage.getItem("pantau.lang") === "en" ? "en" : "id";
}

/** The other language, kept on this device for the next page. */
export function switchLang(lang) {
  const next = lang === "id" ? "en" : "id";
  localStorage.setItem("pantau.lang", next);
  return next;
}

/** A `{id, en}` text in `lang` (either side when the other is missing). */
export function pick(text, lang) {
  if (text === null || text === undefined) return "";
  if (typeof text === "string") return text;
  return text[lang] || text.id || text.en || "";
}

const locale = (lang) => (lang === "id" ? "id-ID" : "en-GB");

/** A count or measure: whole numbers as they are, others with at most `digits` decimals. */
export function number(value, lang, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return new Intl.NumberFormat(locale(lang), { maximumFractionDigits: digits }).format(value);
}

/**
 * Rupiah from the server's exact decimal string (`"1234567.89"`), never through a float:
 * `Rp 1.234.567` (`,89` only when there are sen), grouping by the language's rules.
 */
export function money(text, lang) {
  if (text === null || text === undefined) return "—";
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text));
  if (!match) return String(text);
  const [, sign, whole, fraction] = match;
  const group = lang === "id" ? "." : ",";
  const decimal = lang === "id" ? "," : ".";
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  const sen = fraction && /[1-9]/.test(fraction) ? decimal + fraction.padEnd(2, "0").slice(0, 2) : "";
  return sign + "Rp " + grouped + sen;
}

/** Money is the one measure value the server sends as a string. */
export function isMoney(value) {
  return typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value);
}

/** Any measure value: Rupiah for money, numbers otherwise. */
export function measure(value, lang, digits = 1) {
  return isMoney(value) ? money(value, lang) : number(value, lang, digits);
}

/** A number to compare and draw with (money as a float is fine for a bar's length). */
export function magnitude(value) {
  if (typeof value === "number") return value;
  if (isMoney(value)) return Number(value);
  return NaN;
}

/** `14:05` or `14:05:09` followed by the zone's short name (WIB, WITA, WIT). */
export function clock(date, timeZone, withSeconds = false) {
  const parts = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone };
  if (withSeconds) parts.second = "2-digit";
  const text = new Intl.DateTimeFormat("id-ID", parts).format(date).replace(/\./g, ":");
  return text + " " + (ZONE_NAMES[timeZone] || timeZone);
}

/** `27 Nov 2026 14:05 WIB` (`14:05:09 WIB` with seconds). */
export function dateTime(date, timeZone, lang, withSeconds = false) {
  const day = new Intl.DateTimeFormat(locale(lang), { day: "numeric", month: "short", year: "numeric", timeZone })
    .format(date);
  return day + " " + clock(date, timeZone, withSeconds);
}

/** `Jumat, 27 November 2026`. */
export function longDate(date, timeZone, lang) {
  return new Intl.DateTimeFormat(locale(lang), {
    weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone,
  }).format(date);
}

/** An age in words: `12 dtk`, `5 mnt`, `3 jam`, `2 hari` (`s`, `min`, `h`, `d` in English). */
export function age(seconds, lang) {
  const units = lang === "id" ? ["dtk", "mnt", "jam", "hari"] : ["s", "min", "h", "d"];
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return s + " " + units[0];
  if (s < 90 * 60) return Math.round(s / 60) + " " + units[1];
  if (s < 36 * 3600) return Math.round(s / 3600) + " " + units[2];
  return Math.round(s / 86400) + " " + units[3];
}
