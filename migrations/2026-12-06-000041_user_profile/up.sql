-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- A user's profile, the OpenID Connect claims of the `profile` and
-- `email` scopes (Core 1.0 §5.4): all optional; an email is unverified
-- until an administrator says otherwise.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN name TEXT;
