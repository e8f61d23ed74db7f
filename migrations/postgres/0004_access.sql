-- Access tokens: only the SHA-256 of each secret is kept; a revoked token stays, so its name
-- is not reused and the audit log's mentions of it keep their meaning.
CREATE TABLE tokens (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    hash        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    screen      TEXT,
    dashboards  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);

-- The audit log: append-only; each entry's hash covers the previous entry's hash, so an entry
-- removed or edited is found by `pantau audit verify`. Ids are given by the writer without gaps.
CREATE TABLE audit_log (
    id          BIGINT PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    address     TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    detail      TEXT NOT NULL,
    rows        BIGINT,
    outcome     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);
