"""DuckDB side of the export benchmark (run by `cargo bench --bench export`).

Loads the same complaint rows into an in-memory table with the columns and types of Pantau's
export (timestamps with time zone shown in Asia/Jakarta, coordinates as doubles), then times
`COPY complaints TO … (FORMAT parquet, COMPRESSION zstd)` and `COPY complaints TO … (HEADER)`,
median of the runs, and the peak memory the COPY adds (VmHWM reset before each run). Dirty pages
are flushed (`sync`) before each timed run, as on Pantau's side.

Usage: export_duckdb.py ROWS.parquet WORK_DIR RUNS
"""

import os
import statistics
import sys
import time

import duckdb


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def peak():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parquet, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    con = duckdb.connect()
    zone = "Asia/Jakarta"
    try:
        con.execute(f"SET TimeZone = '{zone}'")
        ts = "to_timestamp({})"
    except duckdb.Error:
        zone = "UTC (no ICU extension)"
        ts = "to_timestamp({})"
    con.execute(
        f"""CREATE TABLE complaints AS SELECT
            source, source_id, category, NULL::VARCHAR AS subcategory, channel, opd,
            lower(status) AS status, false AS out_of_jurisdiction, kecamatan, kelurahan, lat, lon,
            {ts.format('created_at')} AS created_at, {ts.format('updated_at')} AS updated_at,
            NULL::TIMESTAMPTZ AS first_response_at, {ts.format('resolved_at')} AS resolved_at,
            {ts.format('sla_due_at')} AS sla_due_at, rating
        FROM read_parquet('{parquet}')"""
    )
    rows = con.execute("SELECT count(*) FROM complaints").fetchone()[0]
    print(f"duckdb {duckdb.__version__}: {rows} rows in an in-memory table, times shown in {zone}")
    for fmt, options in [
        ("parquet", "FORMAT parquet, COMPRESSION zstd"),
        ("csv", "FORMAT csv, HEADER"),
    ]:
        out = os.path.join(work, f"duckdb.{fmt}")
        times, peaks = [], []
        for _ in range(runs):
            os.sync()
            before = rss()
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            started = time.perf_counter()
            con.execute(f"COPY complaints TO '{out}' ({options})")
            times.append(time.perf_counter() - started)
            peaks.append(max(0, peak() - before))
        m = statistics.median(times)
        size = os.path.getsize(out) / 1e6
        print(
            f"duckdb {fmt:<8} {rows / m:>12.0f} rows/s  ({m:.2f} s median, runs "
            f"{'/'.join(f'{t:.2f}' for t in times)}; {size:.0f} MB file; "
            f"peak memory added {max(peaks) / 2**20:.1f} MiB)"
        )
        print(f"duckdb_{fmt}_rows_per_s {rows / m:.0f}")
        os.remove(out)


if __name__ == "__main__":
    main()
