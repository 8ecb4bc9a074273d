-- A staged key would otherwise become an active one.
DELETE FROM signing_keys WHERE activated_at IS NULL;
ALTER TABLE signing_keys DROP COLUMN revoked_at;
ALTER TABLE signing_keys DROP COLUMN activated_at;
