// The pages' words in Bahasa Indonesia (default) and English.
"use strict";

export const WORDS = {
  id: {
    connecting: "Menghubungkan…", connected: "Terhubung", reconnecting: "Terputus — menyambung ulang…",
    refused: "Tidak dapat terhubung — periksa token layar (?token=…) atau server",
    updated: "{age} lalu", stale: "DATA TERLAMBAT", no_data: "tanpa data", no_rows: "Tidak ada data saat ini", waiting: "menunggu data…",
    other: "lainnya ({n})", total: "Total", target: "target {v}", previous: "sebelumnya {v}",
    unknown: "tanpa lokasi", not_found: "Dasbor “{id}” tidak ditemukan. Tersedia: {list}",
    loading: "Memuat dasbor…", rows: "{n} baris", of: "dari {n}",
    sources: { starting: "memulai", fresh: "segar", stale: "terlambat", failing: "gagal" },
    last_success: "berhasil {age} lalu", never: "belum pernah berhasil",
    status: { received: "diterima", verified: "diverifikasi", assigned: "didisposisi", in_progress: "diproses",
      on_hold: "ditunda", resolved: "selesai", rejected: "ditolak", reopened: "dibuka ulang",
      pending: "menunggu", completed: "selesai", cancelled: "dibatalkan", failed: "gagal" },
    rag: { green: "sesuai target", amber: "perlu perhatian", red: "di luar target" },
    offline: "Luring — nilai terakhir ditampilkan", complaints: "aduan",
    measures: { count: "Jumlah", sum: "Jumlah", avg: "Rata-rata", min: "Minimum", max: "Maksimum", median: "Median",
      p90: "P90", count_distinct: "Jumlah unik", rate_per_hour: "Per jam", share: "Porsi", sla_breached: "Lewat SLA",
      sla_at_risk: "Berisiko", sla_within_pct: "Tepat waktu", time_to_first_response: "Tanggap pertama",
      serapan: "Serapan", plan_pct: "Rencana", deviation: "Deviasi" },
  },
  en: {
    connecting: "Connecting…", connected: "Connected", reconnecting: "Disconnected — reconnecting…",
    refused: "Cannot connect — check the screen's token (?token=…) or the server",
    updated: "{age} ago", stale: "DATA LATE", no_data: "no data", no_rows: "Nothing at the moment", waiting: "waiting for data…",
    other: "other ({n})", total: "Total", target: "target {v}", previous: "previously {v}",
    unknown: "no location", not_found: "Dashboard “{id}” not found. Available: {list}",
    loading: "Loading dashboard…", rows: "{n} rows", of: "of {n}",
    sources: { starting: "starting", fresh: "fresh", stale: "late", failing: "failing" },
    last_success: "succeeded {age} ago", never: "never succeeded",
    status: { received: "received", verified: "verified", assigned: "assigned", in_progress: "in progress",
      on_hold: "on hold", resolved: "resolved", rejected: "rejected", reopened: "reopened",
      pending: "pending", completed: "completed", cancelled: "cancelled", failed: "failed" },
    rag: { green: "on target", amber: "needs attention", red: "off target" },
    offline: "Offline — showing the last values", complaints: "complaints",
    measures: { count: "Count", sum: "Sum", avg: "Average", min: "Minimum", max: "Maximum", median: "Median",
      p90: "P90", count_distinct: "Distinct", rate_per_hour: "Per hour", share: "Share", sla_breached: "Past SLA",
      sla_at_risk: "At risk", sla_within_pct: "On time", time_to_first_response: "First response",
      serapan: "Absorption", plan_pct: "Plan", deviation: "Deviation" },
  },
};

/** `words(lang)("updated", { age: "5 s" })` → `5 s ago`. */
export function words(lang) {
  return (key, values = {}) => {
    let text = WORDS[lang][key];
    if (typeof text !== "string") return text;
    for (const [name, value] of Object.entries(values)) text = text.replace("{" + name + "}", value);
    return text;
  };
}
