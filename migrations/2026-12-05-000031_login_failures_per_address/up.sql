-- Lock records per username AND client address: failures from one address
-- lock the username for that address only, so that nobody can lock a user
-- out from elsewhere. `lock_key` is SHA-256 of the username's key and the
-- address (IPv4, or the IPv6 /64); `username_hash` is SHA-256 of the
-- username alone, indexed, so that a password reset or `authd user unlock`
-- clears every record of a username.
--
-- The per-username records of the previous shape are dropped, not
-- converted (they name no address): counts and locks in force at the
-- upgrade start afresh, at most one lock length (an hour) earlier than
-- they would have ended.
DROP TABLE login_failures;
CREATE TABLE login_failures (
    lock_key TEXT PRIMARY KEY NOT NULL,
    username_hash TEXT NOT NULL,
    failures BIGINT NOT NULL,
    -- Locks in a row without a success; each lasts twice the one before.
    locks BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username_hash);
CREATE INDEX login_failures_updated ON login_failures (updated_at);
