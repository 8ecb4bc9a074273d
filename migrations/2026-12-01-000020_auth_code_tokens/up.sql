-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- What an authorization code needs beyond the core table:
-- the user's credential generation at consent (a password change or a
-- disable before the exchange kills the code), and the tokens issued from
-- it, so that a second use can revoke them (RFC 6749 §4.1.2).
ALTER TABLE auth_codes ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
-- The refresh-token family started by the exchange, if any.
ALTER TABLE auth_codes ADD COLUMN family_id TEXT;
-- The access token issued by the exchange: its jti and expiry, for the
-- revoked_access_tokens table.
ALTER TABLE auth_codes ADD COLUMN access_jti TEXT;
ALTER TABLE auth_codes ADD COLUMN access_expires_at BIGINT;
