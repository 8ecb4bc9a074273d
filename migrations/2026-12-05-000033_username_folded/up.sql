-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- The username in the form in which two names are the same name (Unicode
-- NFKC, lower case): 'Alice', 'ALICE' and full-width 'ａｌｉｃｅ' are one
-- user name. SQL cannot compute NFKC, so existing rows start NULL and
-- authd fills them when it applies migrations (src/db/users.rs,
-- fill_folded). NULLs never collide in a UNIQUE index on either backend:
-- two existing users whose names fold alike do not stop this migration;
-- the older keeps the folded name, the other stays NULL (and is reported).
ALTER TABLE users ADD COLUMN username_folded TEXT;
CREATE UNIQUE INDEX users_username_folded ON users (username_folded);
