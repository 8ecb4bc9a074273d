-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- A client that a user registered (the console) is bounded by that user:
-- it works only while the owner stands with the credentials it was
-- registered (or last re-keyed) under. The column is the owner's
-- credential generation then; NULL for a client an administrator
-- registered. It also marks the client as user-owned for good: when the
-- owner row is deleted, owner_id becomes NULL (ON DELETE SET NULL) but
-- this stays, so the client is stopped rather than freed of its bound.
ALTER TABLE clients ADD COLUMN owner_generation BIGINT;
UPDATE clients SET owner_generation = (
    SELECT u.credential_generation FROM users u WHERE u.id = clients.owner_id
) WHERE owner_id IS NOT NULL;
