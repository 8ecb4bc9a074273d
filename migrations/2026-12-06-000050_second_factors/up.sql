-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Second factors (docs/interface.md "Second factors").
--
-- A user's confirmed TOTP secret (RFC 6238), sealed under the key file
-- like the signing keys; a secret being enrolled is never stored. The
-- last time step accepted, so that no code is accepted twice (RFC 6238
-- §5.2): a code is taken with a conditional UPDATE on it, which only one
-- instance can win.
CREATE TABLE totp_secrets (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    last_step BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
-- Single-use recovery codes, by hash only; using one deletes it.
CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);
-- A role whose users must have a second factor (`--require-mfa`).
ALTER TABLE roles ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
-- What a sign-in used (RFC 8176 `amr` values, space-separated), carried
-- from the session to a code and a refresh family as `auth_time` is.
-- NULL in rows older than it: a password.
ALTER TABLE sessions ADD COLUMN amr TEXT;
ALTER TABLE auth_codes ADD COLUMN amr TEXT;
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT;
