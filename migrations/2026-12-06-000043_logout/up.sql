-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Logout (docs/interface.md "OpenID Connect": "Logout", "Back-channel
-- logout").
--
-- Where a client may send the browser after RP-initiated logout
-- (space-separated, like redirect_uris), and where it hears of a session's
-- end (Back-Channel Logout 1.0 §2.2); NULL: it is not told.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;

-- Which clients got an ID token in which sign-in session (`sid`), recorded
-- by the grants that issue one (code exchange, refresh, password): the
-- apps to tell when that session ends. Kept until `expires_at`, when no
-- session or refresh family of that sign-in can be alive any more.
CREATE TABLE session_clients (
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX session_clients_user ON session_clients (user_id);
CREATE INDEX session_clients_expires ON session_clients (expires_at);

-- The back-channel outbox: one row per logout token still to deliver,
-- written in the transaction that ends the session, delivered by a
-- background task with retries (a row leaves when delivered or given up).
-- `lease_until` is a claim: an instance sends a row only after moving it
-- forward with a conditional UPDATE, so that two instances sharing the
-- database never both send it. No foreign keys: a notice outlives its
-- user, and a removed client's notices are dropped when their turn comes.
CREATE TABLE logout_notices (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    sid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX logout_notices_due ON logout_notices (next_attempt_at);

-- A session's public name (`sid`), stored so that a new login of the same
-- user in the same browser continues it: the apps that signed in before
-- it still hear of its end. NULL in older rows: derived from `id_hash`.
ALTER TABLE sessions ADD COLUMN sid TEXT;

-- A session's end also ends the codes issued in it and not yet exchanged.
CREATE INDEX auth_codes_sid ON auth_codes (sid);
