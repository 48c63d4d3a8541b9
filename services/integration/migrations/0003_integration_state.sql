-- What every replica must agree on about an integration: needs_reauth (Facebook 190), a pause
-- (Google quotaExceeded) until `paused_until`, the last success, and the admin-set token
-- (Fernet ciphertext: never stored in clear).
CREATE TABLE IF NOT EXISTS integration_state (
    integration VARCHAR(32) NOT NULL PRIMARY KEY,
    needs_reauth TINYINT(1) NOT NULL DEFAULT 0,
    paused_until DATETIME(6) NULL,
    reason VARCHAR(500) NULL,
    token_ciphertext TEXT NULL,
    token_set_at DATETIME(6) NULL,
    last_success_at DATETIME(6) NULL,
    last_failure_at DATETIME(6) NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every call to an external API, secrets redacted before they are written.
CREATE TABLE IF NOT EXISTS integration_logs (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    integration VARCHAR(32) NOT NULL,
    action VARCHAR(64) NOT NULL,
    target VARCHAR(32) NULL,
    catalog_id BIGINT UNSIGNED NULL,
    status VARCHAR(16) NOT NULL,
    http_status INT NULL,
    request MEDIUMTEXT NULL,
    response MEDIUMTEXT NULL,
    error VARCHAR(1000) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_integration_logs_filter (integration, status, id),
    KEY ix_integration_logs_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
