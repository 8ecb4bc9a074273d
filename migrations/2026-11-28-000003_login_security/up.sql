-- A password change or a disable bumps the user's credential generation;
-- refresh tokens remember the generation they were issued under, and a
-- login refuses to issue when the generation moved while it hashed.
ALTER TABLE users ADD COLUMN credential_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

-- The absolute end of a refresh family, counted from the login: rotation
-- never extends it. Families from before end the default 30 days after
-- their first token.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE refresh_tokens SET family_expires_at = 2592000 + (
    SELECT MIN(f.issued_at) FROM refresh_tokens f
    WHERE f.family_id = refresh_tokens.family_id
);

-- Consecutive failed password checks per username (known or not), shared
-- by every instance on this database. Keyed by SHA-256 of the username:
-- people type passwords into username fields.
CREATE TABLE login_failures (
    username_hash TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    -- Locks in a row without a success; each lasts twice the one before.
    locks BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX login_failures_updated ON login_failures (updated_at);
