-- Token Status Lists (docs/design.md "Status lists"): the index blocks the
-- instances reserve, and where each revoked access token sits in a list.
CREATE TABLE status_blocks (
    list_id BIGINT NOT NULL,
    block BIGINT NOT NULL,
    -- No token holding an index of this block lives past it: the block is
    -- free again (with a margin for clock skew) once it has passed.
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (list_id, block)
);
ALTER TABLE revoked_access_tokens ADD COLUMN status_list BIGINT;
ALTER TABLE revoked_access_tokens ADD COLUMN status_idx BIGINT;
CREATE INDEX revoked_access_tokens_status ON revoked_access_tokens (status_list, expires_at);
