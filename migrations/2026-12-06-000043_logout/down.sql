DROP INDEX auth_codes_sid;
ALTER TABLE sessions DROP COLUMN sid;
DROP TABLE logout_notices;
DROP TABLE session_clients;
ALTER TABLE clients DROP COLUMN backchannel_logout_uri;
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
