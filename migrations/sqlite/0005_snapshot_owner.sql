-- Whose a snapshot is, for the per-identity rate and storage quota: `token:<name>` for a
-- token's holder, `ip:<address>` for an anonymous caller (rows from before this migration: '').
ALTER TABLE snapshots ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX snapshots_by_owner ON snapshots (owner, created_at);
