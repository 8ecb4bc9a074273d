-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Retried refreshes (docs/interface.md "Token lifecycle", Retried
-- refreshes): while `--refresh-retry-grace` is on, a successor keeps its
-- own token sealed under the key file (never in the clear) for the grace,
-- so that a retry of its parent can be answered with it. Wiped when the
-- successor is used (in its claim's UPDATE) and by the janitor once the
-- grace has passed; NULL in every other row.
ALTER TABLE refresh_tokens ADD COLUMN retry_sealed TEXT;
-- A retry finds the successor by its parent, and the janitor finds what
-- to wipe: only the rows within a grace are in it, so with the grace off
-- it stays empty and an insert only tests the condition.
CREATE INDEX refresh_tokens_retry ON refresh_tokens (parent_hash)
    WHERE retry_sealed IS NOT NULL;
