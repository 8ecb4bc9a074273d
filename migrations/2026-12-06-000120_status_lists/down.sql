DROP INDEX revoked_access_tokens_status;
ALTER TABLE revoked_access_tokens DROP COLUMN status_idx;
ALTER TABLE revoked_access_tokens DROP COLUMN status_list;
DROP TABLE status_blocks;
