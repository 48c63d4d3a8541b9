-- Slugs of the catalog's locations and artists (from catalog.location.* / catalog.artist.*
-- and from the snapshots inside event payloads), to check favourites against.
CREATE TABLE IF NOT EXISTS known_locations (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    slug VARCHAR(191) NOT NULL,
    name VARCHAR(255) NULL,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    UNIQUE KEY uq_known_locations_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS known_artists (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    slug VARCHAR(191) NOT NULL,
    name VARCHAR(255) NULL,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    UNIQUE KEY uq_known_artists_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Published, upcoming events: what a reader who turns reminders on later is reminded of.
CREATE TABLE IF NOT EXISTS known_events (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    start_utc DATETIME(6) NOT NULL,
    location_id BIGINT UNSIGNED NULL,
    -- The artist ids of the lineup, comma separated with a comma at both ends (",3,7,").
    artist_ids VARCHAR(2000) NOT NULL DEFAULT ',',
    -- What the reminder and cancellation mails show (JSON as text).
    context MEDIUMTEXT NOT NULL,
    KEY ix_known_events_start (start_utc)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
