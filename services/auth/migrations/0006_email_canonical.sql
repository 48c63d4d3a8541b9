-- One spelling per address: `email_canonical` (NFKC + casefold of the local part, the IDNA ASCII
-- form of the domain; tdc_auth.models.canonical_email) is compared byte for byte. The old unique
-- key under utf8mb4_unicode_ci matched accented and fullwidth spellings to other accounts.
-- ASCII addresses are canonical once lower-cased (as they are stored); the service fills the
-- rest at start-up (tdc_auth.bootstrap.canonical_emails) before it answers.
ALTER TABLE users
    ADD COLUMN email_canonical VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL AFTER email,
    ADD UNIQUE KEY uq_users_email_canonical (email_canonical),
    DROP INDEX uq_users_email,
    ADD KEY ix_users_email (email);
UPDATE users SET email_canonical = LOWER(email) WHERE email REGEXP '^[ -~]+$';
