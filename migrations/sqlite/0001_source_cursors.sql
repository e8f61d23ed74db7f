-- Where each source's pull stopped. Advanced only after the batch it covers is durable.
CREATE TABLE source_cursors (
    source_id  TEXT PRIMARY KEY NOT NULL,
    cursor     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
