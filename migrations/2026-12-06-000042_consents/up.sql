-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Remembered consent (docs/interface.md "OpenID Connect", "Consent is
-- remembered"): the scopes a user has allowed a client, widened by each
-- later allow, so that a request for a subset of them shows no consent
-- page. Gone with the user or the client.
CREATE TABLE consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
-- A client registered with `--first-party` never shows the consent page.
ALTER TABLE clients ADD COLUMN first_party BOOLEAN NOT NULL DEFAULT FALSE;
