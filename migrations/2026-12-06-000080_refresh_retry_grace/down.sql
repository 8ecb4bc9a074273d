DROP INDEX refresh_tokens_retry;
ALTER TABLE refresh_tokens DROP COLUMN retry_sealed;
