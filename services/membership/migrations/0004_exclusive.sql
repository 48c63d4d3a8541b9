-- Content for supporters. required_tier_id NULL: any active supporter; otherwise the caller's
-- amount in cents must reach that tier's. A file of our own is kept under a random key in the
-- files directory and only ever handed out as a signed, expiring link.
CREATE TABLE IF NOT EXISTS exclusive_items (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind VARCHAR(16) NOT NULL,
    title VARCHAR(200) NOT NULL,
    summary VARCHAR(500) NULL,
    body TEXT NULL,
    url VARCHAR(500) NULL,
    required_tier_id VARCHAR(64) NULL,
    is_published TINYINT(1) NOT NULL DEFAULT 1,
    sort_order INT NOT NULL DEFAULT 0,
    file_key CHAR(32) NULL,
    file_name VARCHAR(255) NULL,
    file_type VARCHAR(100) NULL,
    file_size BIGINT UNSIGNED NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY ix_exclusive_order (is_published, sort_order, id),
    CONSTRAINT fk_exclusive_tier FOREIGN KEY (required_tier_id) REFERENCES tiers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS exclusive_item_translations (
    item_id BIGINT UNSIGNED NOT NULL,
    language CHAR(2) NOT NULL,
    title VARCHAR(200) NULL,
    summary VARCHAR(500) NULL,
    body TEXT NULL,
    PRIMARY KEY (item_id, language),
    CONSTRAINT fk_exclusive_translations FOREIGN KEY (item_id) REFERENCES exclusive_items (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
