-- Venues. The base row holds the English text; location_translations holds the other
-- languages, field by field (a NULL field falls back to the English one).
CREATE TABLE IF NOT EXISTS locations (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    slug VARCHAR(100) NOT NULL,
    name VARCHAR(150) NOT NULL,
    capacity INT NOT NULL DEFAULT 100,
    slurl VARCHAR(500) NULL,
    sort_order INT NOT NULL DEFAULT 0,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    mood_category VARCHAR(20) NOT NULL,
    primary_color CHAR(7) NULL,
    secondary_color CHAR(7) NULL,
    accent_color CHAR(7) NULL,
    dark_color CHAR(7) NULL,
    css_gradient VARCHAR(500) NULL,
    mood_keywords VARCHAR(500) NULL,
    tagline VARCHAR(255) NULL,
    description TEXT NULL,
    architecture_notes TEXT NULL,
    atmosphere_notes TEXT NULL,
    image_media_id BIGINT UNSIGNED NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_locations_slug (slug),
    KEY ix_locations_order (is_active, sort_order, name),
    CONSTRAINT fk_locations_image FOREIGN KEY (image_media_id) REFERENCES media (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS location_translations (
    location_id BIGINT UNSIGNED NOT NULL,
    language CHAR(2) NOT NULL,
    name VARCHAR(150) NULL,
    tagline VARCHAR(255) NULL,
    description TEXT NULL,
    architecture_notes TEXT NULL,
    atmosphere_notes TEXT NULL,
    PRIMARY KEY (location_id, language),
    CONSTRAINT fk_location_translations FOREIGN KEY (location_id) REFERENCES locations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
