DROP INDEX auth_codes_user;
