-- Times are UTC; `timezone` is how the event is displayed (Second Life time by default).
-- `uid` never changes (calendar clients key on it); `sequence` grows on every change.
CREATE TABLE IF NOT EXISTS events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uid CHAR(36) NOT NULL,
    slug VARCHAR(120) NOT NULL,
    status VARCHAR(12) NOT NULL DEFAULT 'draft',
    title VARCHAR(200) NULL,
    subtitle VARCHAR(255) NULL,
    description TEXT NULL,
    start_utc DATETIME(6) NULL,
    end_utc DATETIME(6) NULL,
    timezone VARCHAR(64) NOT NULL DEFAULT 'America/Los_Angeles',
    location_id BIGINT UNSIGNED NULL,
    image_media_id BIGINT UNSIGNED NULL,
    is_featured TINYINT(1) NOT NULL DEFAULT 0,
    sequence INT NOT NULL DEFAULT 0,
    published_at DATETIME(6) NULL,
    cancelled_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_events_slug (slug),
    UNIQUE KEY uq_events_uid (uid),
    KEY ix_events_public (status, end_utc, start_utc),
    KEY ix_events_location (location_id, start_utc),
    CONSTRAINT fk_events_location FOREIGN KEY (location_id) REFERENCES locations (id),
    CONSTRAINT fk_events_image FOREIGN KEY (image_media_id) REFERENCES media (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS event_translations (
    event_id BIGINT UNSIGNED NOT NULL,
    language CHAR(2) NOT NULL,
    title VARCHAR(200) NULL,
    subtitle VARCHAR(255) NULL,
    description TEXT NULL,
    PRIMARY KEY (event_id, language),
    CONSTRAINT fk_event_translations FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS event_artists (
    event_id BIGINT UNSIGNED NOT NULL,
    artist_id BIGINT UNSIGNED NOT NULL,
    position INT NOT NULL,
    set_start_utc DATETIME(6) NULL,
    set_end_utc DATETIME(6) NULL,
    PRIMARY KEY (event_id, artist_id),
    KEY ix_event_artists_artist (artist_id),
    CONSTRAINT fk_event_artists_event FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE,
    CONSTRAINT fk_event_artists_artist FOREIGN KEY (artist_id) REFERENCES artists (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
