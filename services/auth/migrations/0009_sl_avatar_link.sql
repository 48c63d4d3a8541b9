-- The Second Life avatar proven to belong to the account (integration.sl.avatar_linked), apart from
-- the free-text sl_avatar_name the user may type. One account per avatar.
ALTER TABLE users
    ADD COLUMN sl_avatar_key CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD COLUMN sl_avatar_linked_name VARCHAR(64) NULL,
    ADD COLUMN sl_avatar_linked_at DATETIME(6) NULL,
    ADD UNIQUE KEY uq_users_sl_avatar_key (sl_avatar_key);
