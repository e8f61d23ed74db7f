-- Snapshots analysts cite: a dashboard's panel values or a dataset's rows frozen at a moment.
-- The frozen data lives in files under <data dir>/snapshots/<id>/ (written once, never changed);
-- this row describes them and keeps their checksum.
CREATE TABLE snapshots (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    request     TEXT NOT NULL,
    as_of       TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    description TEXT NOT NULL,
    store_seq   BIGINT NOT NULL,
    rows        BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    sha256      TEXT NOT NULL
);
CREATE INDEX snapshots_by_time ON snapshots (created_at, id);
