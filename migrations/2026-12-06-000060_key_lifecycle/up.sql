-- Key lifecycle (docs/interface.md "Token lifecycle", Keys): a staged key
-- is published but signs nothing until it is activated; a revoked key is
-- neither published nor trusted again.
ALTER TABLE signing_keys ADD COLUMN activated_at BIGINT;
ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT;
-- Every key stored so far was active from its creation.
UPDATE signing_keys SET activated_at = created_at;
