-- In-world objects registered by admins. The secret is Fernet ciphertext; after a rotation the
-- previous one stays valid until previous_valid_until. object_key is bound on the first valid
-- signed request (a script learns its own key only when it runs).
CREATE TABLE IF NOT EXISTS sl_objects (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    purpose VARCHAR(16) NOT NULL,
    location_slug VARCHAR(191) NOT NULL,
    owner_key CHAR(36) NOT NULL,
    object_key CHAR(36) NULL,
    secret_ciphertext TEXT NOT NULL,
    previous_secret_ciphertext TEXT NULL,
    previous_valid_until DATETIME(6) NULL,
    revoked_at DATETIME(6) NULL,
    created_by BIGINT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_seen_at DATETIME(6) NULL,
    KEY ix_sl_objects_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Nonces of accepted requests within the timestamp window: a second use is a replay. In the
-- database so that every replica agrees; they also count the requests for the rate limit.
CREATE TABLE IF NOT EXISTS sl_nonces (
    object_id VARCHAR(32) NOT NULL,
    nonce VARBINARY(32) NOT NULL,
    seen_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (object_id, nonce),
    KEY ix_sl_nonces_seen (object_id, seen_at),
    KEY ix_sl_nonces_age (seen_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sl_checkins (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    object_id VARCHAR(32) NOT NULL,
    catalog_id BIGINT UNSIGNED NOT NULL,
    event_slug VARCHAR(191) NOT NULL,
    location_slug VARCHAR(191) NOT NULL,
    avatar_key CHAR(36) NOT NULL,
    avatar_name VARCHAR(128) NOT NULL,
    checked_in_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_sl_checkins_event (catalog_id, checked_in_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per counter report (bounded retention: TDC_INTEGRATION_SL_VISITORS_RETENTION_DAYS).
CREATE TABLE IF NOT EXISTS sl_visitors (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    object_id VARCHAR(32) NOT NULL,
    location_slug VARCHAR(191) NOT NULL,
    visitors INT NOT NULL,
    reported_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_sl_visitors_location (location_slug, reported_at),
    KEY ix_sl_visitors_age (reported_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One-time link codes auth issued (auth.sl_link.code_issued): only their SHA-256, never the code.
CREATE TABLE IF NOT EXISTS sl_link_codes (
    code_hash CHAR(64) NOT NULL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at DATETIME(6) NULL,
    avatar_key CHAR(36) NULL,
    KEY ix_sl_link_codes_user (user_id),
    KEY ix_sl_link_codes_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
