-- ID-token keys would otherwise become access-token keys.
DELETE FROM signing_keys WHERE purpose = 'id_token';
ALTER TABLE signing_keys DROP COLUMN purpose;
ALTER TABLE clients DROP COLUMN id_token_alg;
ALTER TABLE refresh_tokens DROP COLUMN sid;
ALTER TABLE refresh_tokens DROP COLUMN auth_time;
ALTER TABLE auth_codes DROP COLUMN sid;
ALTER TABLE auth_codes DROP COLUMN auth_time;
ALTER TABLE auth_codes DROP COLUMN nonce;
