#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the real files in
../shared/data and the repository's own dashboards, config and mappings. Seeds of the store's
readers (log segments, entries, checkpoint parts) come from stores Pantau itself wrote: pass
their data dirs — one that `pantau import` filled with real LA 311 and APBD rows (checkpoints,
a history file), one the demo's simulator ran on for 20 s (many small log frames):

    pantau import --data-dir /tmp/seed-a --mapping examples/mappings/la311.toml la311-part1.csv
    pantau import --data-dir /tmp/seed-a --mapping examples/mappings/la311.toml la311-part2.csv
    pantau import --data-dir /tmp/seed-a --mapping examples/mappings/apbd_realisasi.toml \
        ../shared/data/budget/diy_realisasi_apbd_2014_2015.csv
    PANTAU__SIMULATOR__INTERVAL_MS=200 timeout -s INT 20 pantau demo --data-dir /tmp/seed-b
    python3 fuzz/make_seeds.py /tmp/seed-a /tmp/seed-b
"""
import json, os, sys, zlib
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
REPO = FUZZ.parent
DATA = REPO.parent / "shared" / "data"
OUT = FUZZ / "corpus"


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def head_lines(path, n):
    with open(path, "rb") as f:
        return b"".join(f.readline() for _ in range(n))


def csv_column(path, index, n):
    import csv
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f)
        next(rows)
        out = []
        for row in rows:
            if len(row) > index and row[index] not in out:
                out.append(row[index])
            if len(out) >= n:
                break
        return out


def rupiah():
    apbd = DATA / "budget" / "diy_realisasi_apbd_2014_2015.csv"
    values = csv_column(apbd, 7, 8) + csv_column(apbd, 8, 8) + csv_column(apbd, 9, 4)
    values += ["Rp 1.234.567,89", "(1.500,00)", "-2500000", "1,234,567.89", "Rp. 750.000", "IDR 12,5"]
    for i, v in enumerate(values):
        put("rupiah_text", f"seed-{i:02}", v)


def times():
    la = DATA / "complaints" / "la311_2018-12_mini.csv"
    values = csv_column(la, 1, 6) + csv_column(la, 12, 3)
    doc = json.loads((DATA / "complaints" / "la311_derived_georeport_v2_requests.json").read_text())
    values += [r["requested_datetime"] for r in doc[:6]]
    values += ["2026-11-27T08:00:00+07:00", "2026-11-01T00:00:00 07:00", "2026-11-27 08:00", "2026-11-27T08:00"]
    for i, v in enumerate(values):
        put("time_text", f"seed-{i:02}", v)


def export_queries():
    la = DATA / "complaints" / "la311_2018-12_mini.csv"
    categories = csv_column(la, 5, 4)
    queries = [
        "format=csv\nlimit=100",
        "format=parquet\nas_of=2018-12-31T23:00:00-08:00\ncolumns=source_id,category,status",
        "format=geojson\nfilter.status=resolved",
        "format=xlsx\nfilter.created_at.gte=2018-12-01\nfilter.created_at.lt=2019-01-01",
        "filter.kecamatan.in=3575010,3575020\nlimit=5",
    ] + [f"format=csv\nfilter.category={c}\nfilter.opd=BOS" for c in categories]
    for i, q in enumerate(queries):
        put("export_query", f"seed-{i:02}", q)


def tomls():
    for i, f in enumerate(sorted((REPO / "dashboards").glob("*.toml"))):
        put("dashboard_toml", f"seed-{i:02}-{f.stem}", f.read_bytes())
    configs = [REPO / "pantau.example.toml"]
    text = (REPO / "pantau.example.toml").read_text()
    # One seed per section, so the fuzzer starts from each part of the file on its own.
    sections = [s for s in text.split("\n[") if s.strip()]
    for i, f in enumerate(configs):
        put("config_toml", f"seed-{i:02}-{f.stem}", f.read_bytes())
    for i, s in enumerate(sections):
        put("config_toml", f"section-{i:02}", ("[" + s) if i else s)


def csv_files():
    files = sorted((DATA / "complaints").glob("*.csv")) + [DATA / "budget" / "diy_realisasi_apbd_2014_2015.csv"]
    for i, f in enumerate(files):
        body = head_lines(f, 12)
        put("csv_file", f"seed-{i:02}-utf8-{f.stem}", b"\x00" + body)
        text = body.decode("utf-8", "replace")
        put("csv_file", f"seed-{i:02}-cp1252-{f.stem}", b"\x01" + text.replace(",", ";").encode("cp1252", "replace"))
        put("csv_file", f"seed-{i:02}-utf16-{f.stem}", b"\x02" + text.replace(",", "\t").encode("utf-16-le"))
        put("csv_file", f"seed-{i:02}-latin1-{f.stem}", b"\x03" + ("Laporan pengaduan\nDiekspor 2026\n" + text.replace(",", "|")).encode("latin-1", "replace"))


def json_files():
    doc = json.loads((DATA / "complaints" / "la311_derived_georeport_v2_requests.json").read_text())
    for i in range(0, 24, 4):
        rows = doc[i:i + 4]
        put("json_records", f"seed-ndjson-{i:02}", b"\x00" + "\n".join(json.dumps(r) for r in rows).encode())
        put("json_records", f"seed-array-{i:02}", b"\x01" + json.dumps(rows, indent=1).encode())
        put("json_records", f"seed-requests-{i:02}", b"\x03" + json.dumps({"requests": rows}).encode())


def ws():
    lines = [
        [{"type": "subscribe", "prefixes": ["dashboards/wall/"]}, {"type": "ping", "id": 1}],
        [{"type": "subscribe", "topics": [{"topic": "dashboards/wall/backlog", "last_seq": 1}]},
         {"type": "unsubscribe", "topics": ["dashboards/wall/backlog"]}],
        [{"type": "screen", "name": "wall-1", "page": "/wall/kota-pasuruan-wall", "data_age_s": 3.5, "stale": False},
         {"type": "ping", "id": "hb"}],
        [{"type": "subscribe", "topics": [{"topic": "dashboards/peta/points"}]},
         {"type": "view", "topic": "dashboards/peta/points", "bbox": [112.87, -7.68, 112.94, -7.61], "zoom": 13},
         {"type": "view", "topic": "dashboards/peta/points"}],
        [{"type": "subscribe", "topics": [{"topic": "nope"}, {"topic": "dashboards/wall/per_opd"}]},
         {"type": "unsubscribe", "prefixes": ["dashboards/"]}],
    ]
    for i, frames in enumerate(lines):
        put("ws_session", f"seed-{i:02}", "\n".join(json.dumps(f) for f in frames))


def store_seeds(data_dirs):
    data_dirs = [Path(d) for d in data_dirs]
    segments = [s for d in data_dirs for s in sorted((d / "store" / "log").glob("*.log"))]
    frames = []
    for seg in segments:
        b = seg.read_bytes()
        at = 0
        while at + 16 <= len(b):
            n = int.from_bytes(b[at:at + 4], "little")
            frames.append(b[at:at + 16 + n])
            at += 16 + n
    if not frames:
        sys.exit(f"no log frames under {data_dirs}")
    small = sorted(frames, key=len)[:12]
    for i, f in enumerate(small):
        put("log_entry", f"seed-{i:02}", f[16:])
    # Segments of a few whole frames, renumbered from 1 as a fresh log holds them.
    def renumber(frame, seq):
        payload = frame[16:]
        header_seq = seq.to_bytes(8, "little")
        crc = zlib.crc32(header_seq + payload).to_bytes(4, "little")
        return len(payload).to_bytes(4, "little") + crc + header_seq + payload
    for i in range(6):
        chosen = small[i:i + 3]
        seg = b"".join(renumber(f, n + 1) for n, f in enumerate(chosen))
        put("log_segment", f"seed-{i:02}", seg)
        put("log_segment", f"seed-{i:02}-torn", seg[: len(seg) - 7])
    cps = [c for d in data_dirs for c in sorted((d / "store" / "checkpoints").glob("0*"))]
    if not cps:
        sys.exit(f"no checkpoint under {data_dirs}")
    cp = cps[-1]
    put("checkpoint_part", "seed-manifest", b"\x00" + (cp / "manifest.json").read_bytes())
    for n, f in enumerate(sorted(cp.glob("*.keys"))):
        put("checkpoint_part", f"seed-keys-{n}", b"\x01" + f.read_bytes()[:-4])
    for n, f in enumerate(sorted(cp.glob("*.dicts.json"))):
        put("checkpoint_part", f"seed-dicts-{n}", b"\x02" + f.read_bytes())
    for n, f in enumerate(sorted(cp.glob("*.parquet"))):
        if f.stat().st_size <= 256 * 1024:
            put("checkpoint_part", f"seed-parquet-{n}", b"\x03" + f.read_bytes())


if __name__ == "__main__":
    rupiah(); times(); export_queries(); tomls(); csv_files(); json_files(); ws()
    if len(sys.argv) > 1:
        store_seeds(sys.argv[1:])
