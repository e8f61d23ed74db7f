"""DuckDB side of the store benchmark (run by `cargo bench --bench store`).

Loads the same complaint rows the Rust bench appended, from the Parquet file it wrote:
1. batched: 10k-row batches upserted into a keyed table of a file database, one commit per batch
   (what Pantau's append does: durable, key-aware);
2. bulk: one CREATE TABLE AS SELECT of the whole file (no key), DuckDB's fastest load.

Usage: store_duckdb.py ROWS.parquet BATCH DB_PATH
"""

import os
import sys
import time

import duckdb
import pyarrow.parquet as pq


def main() -> None:
    parquet, batch, db_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    table = pq.read_table(parquet)
    rows = table.num_rows
    for suffix in ("", ".wal"):
        if os.path.exists(db_path + suffix):
            os.remove(db_path + suffix)
    con = duckdb.connect(db_path)
    con.execute(
        """CREATE TABLE complaints (
            source VARCHAR, source_id VARCHAR, category VARCHAR, channel VARCHAR, opd VARCHAR,
            status VARCHAR, kecamatan VARCHAR, kelurahan VARCHAR, lat DOUBLE, lon DOUBLE, created_at BIGINT,
            updated_at BIGINT, resolved_at BIGINT, sla_due_at BIGINT, rating INTEGER,
            PRIMARY KEY (source, source_id))"""
    )
    started = time.perf_counter()
    for offset in range(0, rows, batch):
        chunk = table.slice(offset, batch)  # noqa: F841 (read by DuckDB's replacement scan)
        con.execute("BEGIN")
        con.execute("INSERT OR REPLACE INTO complaints SELECT * FROM chunk")
        con.execute("COMMIT")
    batched = time.perf_counter() - started
    con.execute("CHECKPOINT")
    print(f"duckdb batched upsert: {rows / batched:>12.0f} rows/s  ({rows} rows in {batched:.2f} s)")
    print(f"duckdb_batched_rows_per_s {rows / batched:.0f}")

    started = time.perf_counter()
    con.execute(f"CREATE TABLE bulk AS SELECT * FROM read_parquet('{parquet}')")
    con.execute("CHECKPOINT")
    bulk = time.perf_counter() - started
    print(f"duckdb bulk load:      {rows / bulk:>12.0f} rows/s  ({rows} rows in {bulk:.2f} s)")
    con.close()

    started = time.perf_counter()
    con = duckdb.connect(db_path)
    count = con.execute("SELECT count(*) FROM complaints").fetchone()[0]
    reopen = time.perf_counter() - started
    print(f"duckdb reopen + count: {reopen:>12.2f} s  ({count} rows)")


if __name__ == "__main__":
    main()
