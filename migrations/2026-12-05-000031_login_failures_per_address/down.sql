-- Back to one record per username; the per-address records are dropped.
DROP TABLE login_failures;
CREATE TABLE login_failures (
    username_hash TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    locks BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX login_failures_updated ON login_failures (updated_at);
