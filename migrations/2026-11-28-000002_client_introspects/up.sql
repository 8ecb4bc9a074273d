-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- The audiences whose access tokens a client (a resource server) may
-- introspect besides its own tokens, space-separated; '' for none.
ALTER TABLE clients ADD COLUMN introspects TEXT NOT NULL DEFAULT '';
