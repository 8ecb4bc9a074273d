DROP TABLE login_failures;
ALTER TABLE refresh_tokens DROP COLUMN family_expires_at;
ALTER TABLE refresh_tokens DROP COLUMN generation;
ALTER TABLE users DROP COLUMN credential_generation;
