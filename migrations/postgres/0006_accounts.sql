-- Local accounts: a password is kept only as its argon2id hash (PHC string, salt included).
-- A disabled account stays, so its name is not reused and the audit log's mentions keep their
-- meaning. Failed logins and the lockout they cause are kept here, so every node sees them.
CREATE TABLE users (
    id                   BIGSERIAL PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    role                 TEXT NOT NULL,
    dashboards           TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    failed_logins        BIGINT NOT NULL DEFAULT 0,
    locked_until         TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL,
    created_by           TEXT NOT NULL,
    password_changed_at  TIMESTAMPTZ NOT NULL,
    disabled_at          TIMESTAMPTZ
);

-- Browser sessions: the cookie's secret and the session's CSRF token are kept only as SHA-256.
CREATE TABLE sessions (
    hash        TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    csrf_hash   TEXT NOT NULL,
    address     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ
);
CREATE INDEX sessions_by_user ON sessions (user_name);
