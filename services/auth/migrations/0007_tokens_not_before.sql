-- Access tokens of this user issued (iat) before this time (epoch seconds) are refused everywhere
-- (role change, account disabled); tokens issued later get iat >= it. NULL: nothing revoked.
ALTER TABLE users ADD COLUMN tokens_not_before BIGINT NULL;
