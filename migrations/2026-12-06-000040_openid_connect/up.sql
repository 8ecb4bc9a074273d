-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- OpenID Connect (docs/interface.md "OpenID Connect").
--
-- What an ID token says about the sign-in behind a code: the `nonce` of
-- the authorization request (Core 1.0 §3.1.2.1), when the user entered
-- their password (`auth_time`) and the sign-in session (`sid`). NULL for
-- codes issued before, which then carry no nonce.
ALTER TABLE auth_codes ADD COLUMN nonce TEXT;
ALTER TABLE auth_codes ADD COLUMN auth_time BIGINT;
ALTER TABLE auth_codes ADD COLUMN sid TEXT;
-- The same sign-in, kept by a refresh family so that an ID token from a
-- refresh keeps `auth_time` and `sid` (Core 1.0 §12.2). NULL for older
-- families: their ID tokens fall back to the token's issue time.
ALTER TABLE refresh_tokens ADD COLUMN auth_time BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN sid TEXT;
-- The client's ID-token algorithm (`--id-token-alg`); NULL is RS256.
ALTER TABLE clients ADD COLUMN id_token_alg TEXT;
-- What a key signs: 'access' (the one active access-token key) or
-- 'id_token' (one active key per algorithm, made when first needed).
ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'access';
