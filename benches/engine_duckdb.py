"""DuckDB side of the engine benchmark (run by `cargo bench --bench engine`).

Loads the same complaint rows into an in-memory table, then times the SQL equivalent of every
complaint panel of the Kota Pasuruan wall dashboard (map per kelurahan, open now and as of a day
before, new today, SLA breached / at risk, per hour over 24 h, backlog and breaches per OPD, per
kecamatan with shares, the ten newest), all queries once per run, median of the runs.
The budget and service panels read empty datasets on both sides and are left out here.

Usage: engine_duckdb.py ROWS.parquet NOW_EPOCH_SECONDS RUNS
"""

import statistics
import sys
import time

import duckdb

WIB = 7 * 3600


def main() -> None:
    parquet, now, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    con = duckdb.connect()
    con.execute(f"CREATE TABLE complaints AS SELECT * FROM read_parquet('{parquet}')")
    day = 86400
    today = (now + WIB) // day * day - WIB
    open_ = "status NOT IN ('Resolved', 'Rejected')"
    queries = {
        "map": "SELECT kelurahan, count(*) FROM complaints GROUP BY kelurahan",
        "open": f"SELECT count(*) FROM complaints WHERE {open_}",
        "open_1d_ago": f"SELECT count(*) FROM complaints WHERE updated_at <= {now - day} AND {open_}",
        "new-today": f"SELECT count(*) FROM complaints WHERE created_at >= {today} AND created_at < {today + day}",
        "sla": f"""SELECT sum(CASE WHEN {open_} AND sla_due_at < {now} THEN 1 ELSE 0 END),
                          sum(CASE WHEN {open_} AND sla_due_at >= {now} AND sla_due_at < {now + 4 * 3600} THEN 1 ELSE 0 END)
                   FROM complaints""",
        "per-hour": f"""SELECT (created_at + {WIB}) // 3600 * 3600 - {WIB} AS h, count(*) FROM complaints
                        WHERE created_at >= {now - day} AND created_at < {now + 1} GROUP BY h""",
        "per-opd": f"""SELECT opd, count(*) AS backlog, sum(CASE WHEN sla_due_at < {now} THEN 1 ELSE 0 END)
                       FROM complaints WHERE {open_} GROUP BY opd ORDER BY backlog DESC""",
        "per-kecamatan": """SELECT kecamatan, count(*), count(*) * 100.0 / sum(count(*)) OVER ()
                            FROM complaints GROUP BY kecamatan""",
        "newest": """SELECT source, source_id, created_at, category, kelurahan, opd, status
                     FROM complaints ORDER BY created_at DESC LIMIT 10""",
    }
    totals = []
    per = {k: [] for k in queries}
    for _ in range(runs):
        started = time.perf_counter()
        for name, sql in queries.items():
            t = time.perf_counter()
            con.execute(sql).fetchall()
            per[name].append(time.perf_counter() - t)
        totals.append(time.perf_counter() - started)
    total = statistics.median(totals) * 1000
    print(f"duckdb equivalent SQL: {total:>8.1f} ms median, {min(totals) * 1000:.1f} ms best")
    for name, times in per.items():
        print(f"  {name:<16} {statistics.median(times) * 1000:>8.1f} ms")
    print(f"duckdb_wall_ms {total:.1f}")


if __name__ == "__main__":
    main()
