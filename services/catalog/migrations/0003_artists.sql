CREATE TABLE IF NOT EXISTS artists (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    slug VARCHAR(100) NOT NULL,
    name VARCHAR(150) NOT NULL,
    genre VARCHAR(100) NULL,
    tagline VARCHAR(255) NULL,
    bio TEXT NULL,
    website_url VARCHAR(500) NULL,
    soundcloud_url VARCHAR(500) NULL,
    mixcloud_url VARCHAR(500) NULL,
    sl_avatar_name VARCHAR(100) NULL,
    image_media_id BIGINT UNSIGNED NULL,
    sort_order INT NOT NULL DEFAULT 0,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_artists_slug (slug),
    KEY ix_artists_genre (genre),
    KEY ix_artists_order (is_active, sort_order, name),
    CONSTRAINT fk_artists_image FOREIGN KEY (image_media_id) REFERENCES media (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS artist_translations (
    artist_id BIGINT UNSIGNED NOT NULL,
    language CHAR(2) NOT NULL,
    tagline VARCHAR(255) NULL,
    bio TEXT NULL,
    PRIMARY KEY (artist_id, language),
    CONSTRAINT fk_artist_translations FOREIGN KEY (artist_id) REFERENCES artists (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
