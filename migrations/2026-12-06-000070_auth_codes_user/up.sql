-- Deleting a user cascades to their codes, and locks them first on
-- PostgreSQL (src/db/users.rs): found by user, not by a scan.
CREATE INDEX auth_codes_user ON auth_codes (user_id);
