"""DuckDB reading the same LA 311 CSV files into a table, for benches/import.rs (3 runs, median)."""
import statistics
import sys
import time

import duckdb

paths = sys.argv[1:]
rates = []
for run in range(3):
    con = duckdb.connect()
    started = time.perf_counter()
    for i, path in enumerate(paths):
        # Each file has its own header layout, so each becomes its own table, as an import would.
        con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv('{path}')")
    elapsed = time.perf_counter() - started
    rows = sum(con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0] for i in range(len(paths)))
    rates.append(rows / elapsed)
    print(f"duckdb run {run + 1}: {rows} rows in {elapsed:.2f} s = {rows / elapsed:.0f} rows/s")
    con.close()
print(f"duckdb read_csv median: {statistics.median(rates):.0f} rows/s")
