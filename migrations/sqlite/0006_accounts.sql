-- Local accounts: a password is kept only as its argon2id hash (PHC string, salt included).
-- A disabled account stays, so its name is not reused and the audit log's mentions keep their
-- meaning. Failed logins and the lockout they cause are kept here, so every node sees them.
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    role                 TEXT NOT NULL,
    dashboards           TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    failed_logins        BIGINT NOT NULL DEFAULT 0,
    locked_until         TEXT,
    created_at           TEXT NOT NULL,
    created_by           TEXT NOT NULL,
    password_changed_at  TEXT NOT NULL,
    disabled_at          TEXT
);

-- Browser sessions: the cookie's secret and the session's CSRF token are kept only as SHA-256.
CREATE TABLE sessions (
    hash        TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    csrf_hash   TEXT NOT NULL,
    address     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    ended_at    TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_name);
