-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- Browser sessions of the login form. The cookie holds 256 random bits;
-- only their SHA-256 is stored, so a copy of the table logs nobody in.
-- A session remembers the user's credential generation at login: a
-- password change or a disable moves it on and so ends the session on
-- every instance.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_generation BIGINT NOT NULL,
    -- The token that the session's own forms must send back (CSRF).
    csrf_secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Keys that every instance on this database shares, made on first use:
-- the key that signs the login form's CSRF tokens before a session exists.
CREATE TABLE csrf_keys (
    name TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
