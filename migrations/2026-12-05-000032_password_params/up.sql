-- The Argon2id parameters new password hashes are made with: one set per
-- database (the row with id 1), so that the server, every other instance
-- and the admin commands hash alike, and the dummy hash that unknown users
-- are checked against costs what a stored hash costs. `authd serve`
-- stores its settings here at start; the admin commands use what is
-- stored (their own settings only fill an empty table).
CREATE TABLE password_params (
    id BIGINT PRIMARY KEY NOT NULL,
    memory_kib BIGINT NOT NULL,
    iterations BIGINT NOT NULL,
    parallelism BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
