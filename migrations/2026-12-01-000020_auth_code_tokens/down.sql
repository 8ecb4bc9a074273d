ALTER TABLE auth_codes DROP COLUMN access_expires_at;
ALTER TABLE auth_codes DROP COLUMN access_jti;
ALTER TABLE auth_codes DROP COLUMN family_id;
ALTER TABLE auth_codes DROP COLUMN generation;
