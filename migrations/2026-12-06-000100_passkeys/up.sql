-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Passkeys (WebAuthn Level 2; docs/interface.md "Second factors").
--
-- One row per registered credential, by its id (base64url, as the
-- browser names it). `passkey` is webauthn-rs's record of it as JSON: the
-- public key, the signature counter and the flags; no secret. A use is
-- taken with a conditional UPDATE on `last_used_at` and `last_challenge`
-- (the SHA-256 of the ceremony's challenge), so that one answer of the
-- authenticator signs in once, on any instance.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    last_challenge TEXT
);
CREATE INDEX passkeys_user ON passkeys (user_id);
