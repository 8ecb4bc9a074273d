ALTER TABLE refresh_tokens DROP COLUMN amr;
ALTER TABLE auth_codes DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE roles DROP COLUMN require_mfa;
DROP INDEX recovery_codes_user;
DROP TABLE recovery_codes;
DROP TABLE totp_secrets;
