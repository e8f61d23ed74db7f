// The pages' words in Bahasa Indonesia (default) and English.
"use strict";

export const WORDS = {
  id: {
    connecting: "Menghubungkan…", connected: "Terhubung", reconnecting: "Terputus — menyambung ulang…",
    refused: "Tidak dapat terhubung — periksa token layar (?token=…) atau server, atau masuk di /login/",
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
    nav_wall: "Layar dinding", nav_map_wall: "Peta aduan", nav_explore: "Jelajah peta", nav_kpi: "KPI pimpinan",
    nav_analyst: "Analis",
    demo_note: "Data simulasi di atas batas kelurahan Kota Pasuruan (Kemendagri, cahyadsn/wilayah_boundaries, MIT).",
    // The analyst page (static/analyst/analyst.js).
    analyst: {
      title: "Analis data", export_title: "Ekspor data", dataset: "Dataset", as_of: "Per waktu (kosong = sekarang)",
      limit: "Batas baris", format: "Format", filters: "Filter", add_filter: "+ Tambah filter", columns: "Kolom",
      preview: "Pratinjau", download: "Unduh", description: "Keterangan snapshot", created_by: "Nama Anda",
      snapshot: "Simpan snapshot", dashboards_title: "Dasbor dan panel", snapshots_title: "Snapshot",
      snap_id: "Id", snap_what: "Isi", as_of_short: "Per waktu", created_by_short: "Oleh",
      description_short: "Keterangan", rows: "Baris", more: "Lainnya…", back: "← Kembali",
      snapshot_heading: "Snapshot", copy_link: "Salin tautan", copied: "Tautan disalin.",
      footer: "Waktu ditampilkan dalam zona penerapan; uang dalam Rupiah, tepat.",
      remove: "Hapus", equals: "sama dengan", min: "minimal", max: "kurang dari", window: "rentang waktu",
      result: "nilai panel", rows_behind: "baris data", snapshot_dashboard: "Snapshot dasbor",
      taken: "Snapshot {id} tersimpan.", no_rows: "Tidak ada baris.", showing: "{n} dari {total} baris",
      kind_dashboard: "dasbor", kind_dataset: "dataset", created_at: "Dibuat", sha256: "SHA-256",
      target: "Isi", request: "Permintaan", store_seq: "Commit penyimpanan", loading: "Memuat…",
      not_found: "Snapshot tidak ditemukan.", panel_empty: "Panel tanpa nilai pada waktu itu.",
    },
    // The login page (static/login/login.js).
    login: {
      title: "Masuk", heading: "Masuk ke Pantau", name: "Nama pengguna", password: "Kata sandi", submit: "Masuk",
      change_heading: "Pilih kata sandi baru",
      change_hint: "Kata sandi sekali pakai harus diganti sebelum melanjutkan: minimal 12 karakter, tanpa nama pengguna.",
      current: "Kata sandi saat ini", new: "Kata sandi baru", repeat: "Ulangi kata sandi baru",
      change_submit: "Simpan kata sandi", signed_in: "Anda sudah masuk", continue: "Lanjutkan", logout: "Keluar",
      as: "Masuk sebagai {name} (peran {role}).", working: "Memeriksa…", mismatch: "Kedua kata sandi baru tidak sama.",
      changed: "Kata sandi tersimpan.", logged_out: "Anda sudah keluar.", offline: "Server tidak dapat dihubungi.",
      expired: "Sesi berakhir; silakan masuk lagi.",
      errors: {
        login_failed: "Nama pengguna atau kata sandi salah.",
        account_locked: "Terlalu banyak percobaan gagal untuk akun ini; coba lagi dalam {secs} detik.",
        too_many_failures: "Terlalu banyak percobaan gagal dari alamat ini; coba lagi dalam {secs} detik.",
        wrong_password: "Kata sandi saat ini salah.",
        csrf_failed: "Permintaan ditolak (token CSRF); muat ulang halaman.",
        session_expired: "Sesi berakhir; silakan masuk lagi.",
      },
    },
    measures: { count: "Jumlah", sum: "Jumlah", avg: "Rata-rata", min: "Minimum", max: "Maksimum", median: "Median",
      p90: "P90", count_distinct: "Jumlah unik", rate_per_hour: "Per jam", share: "Porsi", sla_breached: "Lewat SLA",
      sla_at_risk: "Berisiko", sla_within_pct: "Tepat waktu", time_to_first_response: "Tanggap pertama",
      serapan: "Serapan", plan_pct: "Rencana", deviation: "Deviasi" },
  },
  en: {
    connecting: "Connecting…", connected: "Connected", reconnecting: "Disconnected — reconnecting…",
    refused: "Cannot connect — check the screen's token (?token=…) or the server, or log in at /login/",
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
    nav_wall: "Wall screen", nav_map_wall: "Complaint map", nav_explore: "Map explorer", nav_kpi: "Leadership KPIs",
    nav_analyst: "Analyst",
    demo_note: "Simulated data over the kelurahan boundaries of Kota Pasuruan (Kemendagri, cahyadsn/wilayah_boundaries, MIT).",
    analyst: {
      title: "Data analyst", export_title: "Export data", dataset: "Dataset", as_of: "As of (empty = now)",
      limit: "Row limit", format: "Format", filters: "Filters", add_filter: "+ Add filter", columns: "Columns",
      preview: "Preview", download: "Download", description: "Snapshot description", created_by: "Your name",
      snapshot: "Save snapshot", dashboards_title: "Dashboards and panels", snapshots_title: "Snapshots",
      snap_id: "Id", snap_what: "Contents", as_of_short: "As of", created_by_short: "By",
      description_short: "Description", rows: "Rows", more: "More…", back: "← Back",
      snapshot_heading: "Snapshot", copy_link: "Copy link", copied: "Link copied.",
      footer: "Times are shown in the deployment's zone; money in Rupiah, exact.",
      remove: "Remove", equals: "equals", min: "at least", max: "below", window: "window",
      result: "panel values", rows_behind: "rows behind", snapshot_dashboard: "Snapshot dashboard",
      taken: "Snapshot {id} saved.", no_rows: "No rows.", showing: "{n} of {total} rows",
      kind_dashboard: "dashboard", kind_dataset: "dataset", created_at: "Taken", sha256: "SHA-256",
      target: "Contents", request: "Request", store_seq: "Store commit", loading: "Loading…",
      not_found: "No such snapshot.", panel_empty: "The panel had no value at that moment.",
    },
    // The login page (static/login/login.js).
    login: {
      title: "Log in", heading: "Log in to Pantau", name: "User name", password: "Password", submit: "Log in",
      change_heading: "Choose a new password",
      change_hint: "A one-time password must be replaced before you go on: at least 12 characters, without your user name.",
      current: "Current password", new: "New password", repeat: "New password again",
      change_submit: "Save password", signed_in: "You are logged in", continue: "Continue", logout: "Log out",
      as: "Logged in as {name} (role {role}).", working: "Checking…", mismatch: "The two new passwords differ.",
      changed: "Password saved.", logged_out: "You are logged out.", offline: "The server cannot be reached.",
      expired: "The session has ended; please log in again.",
      errors: {
        login_failed: "Wrong user name or password.",
        account_locked: "Too many failed logins for this account; try again in {secs} s.",
        too_many_failures: "Too many failed logins from this address; try again in {secs} s.",
        wrong_password: "The current password is not right.",
        csrf_failed: "Request refused (CSRF token); reload the page.",
        session_expired: "The session has ended; please log in again.",
      },
    },
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

/** Puts the words of `lang` into every `[data-i18n]` element (its text) and
 * `[data-i18n-placeholder]` element (its placeholder) under `root`. */
export function applyWords(root, lang) {
  // A dotted key (`analyst.title`) looks inside a page's own section of the words.
  const t = (key) => key.split(".").reduce((d, k) => (d && typeof d === "object" ? d[k] : undefined), WORDS[lang]);
  for (const node of root.querySelectorAll("[data-i18n]")) {
    const text = t(node.dataset.i18n);
    if (typeof text === "string") node.textContent = text;
  }
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    const text = t(node.dataset.i18nPlaceholder);
    if (typeof text === "string") node.placeholder = text;
  }
  if (root.documentElement) root.documentElement.lang = lang;
}
