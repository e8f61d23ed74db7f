-- Records a source delivered that could not be stored, with a reason a person can read. Kept until
-- a reprocess stores them; a re-pulled record updates its row instead of adding one.
CREATE TABLE quarantine (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id    TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    UNIQUE (source_id, payload_hash)
);
CREATE INDEX quarantine_by_source ON quarantine (source_id, id);

-- Files a drop-folder source has finished, by content, so a file is processed once.
CREATE TABLE processed_files (
    source_id    TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    rows_stored  BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (source_id, content_hash)
);
