-- Patreon tiers as read from the campaign (id, title, amount): Patreon owns these columns and
-- every reconciliation rewrites them. Our own texts per language, English included, sit in
-- tier_translations and are never touched by a sync; a missing text falls back to English,
-- then to Patreon's title and description.
CREATE TABLE IF NOT EXISTS tiers (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    patreon_title VARCHAR(255) NOT NULL,
    patreon_description TEXT NULL,
    amount_cents INT UNSIGNED NOT NULL DEFAULT 0,
    join_url VARCHAR(500) NULL,
    published TINYINT(1) NOT NULL DEFAULT 1,
    sort_order INT NOT NULL DEFAULT 0,
    synced_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY ix_tiers_amount (published, amount_cents)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS tier_translations (
    tier_id VARCHAR(64) NOT NULL,
    language CHAR(2) NOT NULL,
    title VARCHAR(255) NULL,
    description TEXT NULL,
    benefits TEXT NULL,
    PRIMARY KEY (tier_id, language),
    CONSTRAINT fk_tier_translations FOREIGN KEY (tier_id) REFERENCES tiers (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- The campaign itself (one row): its public page, for the support page.
CREATE TABLE IF NOT EXISTS campaign (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    url VARCHAR(500) NULL,
    patron_count INT UNSIGNED NULL,
    synced_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
