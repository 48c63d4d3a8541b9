-- The queue. One row per mail to one person; the UNIQUE idempotency key (kind, person, what
-- it is about, its revision) is what makes a redelivered event or a second replica a no-op.
-- Bodies are rendered when the mail is sent, from `context`; a security mail's context (it
-- holds the one-time link) is erased once the mail has left or failed for good.
CREATE TABLE IF NOT EXISTS mails (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    idempotency_key VARCHAR(191) NOT NULL,
    user_id BIGINT UNSIGNED NULL,
    kind VARCHAR(32) NOT NULL,
    subject_ref VARCHAR(64) NULL,
    to_address VARCHAR(320) NOT NULL,
    language CHAR(2) NOT NULL DEFAULT 'en',
    subject VARCHAR(255) NOT NULL,
    context MEDIUMTEXT NULL,
    -- 0 security links, 1 account mail, 2 reminders, 3 newsletters: lower goes first.
    priority TINYINT UNSIGNED NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    due_at DATETIME(6) NOT NULL,
    attempts SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    message_id VARCHAR(255) NULL,
    claim_token CHAR(32) NULL,
    lease_until DATETIME(6) NULL,
    -- The row's place in its claimed batch: a lane sends the batch in this order and commits
    -- each outcome before it begins the next, so after a crash the first row still `sending`
    -- is the one that may have reached the relay, and the later ones never began.
    claim_seq SMALLINT UNSIGNED NULL,
    last_error VARCHAR(1000) NULL,
    created_at DATETIME(6) NOT NULL,
    sent_at DATETIME(6) NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_mails_idempotency (idempotency_key),
    KEY ix_mails_due (status, priority, due_at),
    KEY ix_mails_user (user_id, created_at),
    KEY ix_mails_subject (subject_ref, kind, status),
    KEY ix_mails_address (to_address(64))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Every SMTP attempt and the server's reply, for the admin view.
CREATE TABLE IF NOT EXISTS mail_attempts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    mail_id BIGINT UNSIGNED NOT NULL,
    attempted_at DATETIME(6) NOT NULL,
    outcome VARCHAR(16) NOT NULL,
    smtp_code SMALLINT NULL,
    smtp_reply VARCHAR(1000) NULL,
    KEY ix_mail_attempts_mail (mail_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
