-- The service's own copy of the catalog's announced events, kept from catalog.event.* (the
-- payload is the catalog's EVENT_SNAPSHOT, as text). Pushes and the Second Life board read it,
-- so neither needs the catalog to be up. `sequence` is the catalog's revision counter: an
-- event older than the row is ignored, so out-of-order delivery never goes back in time.
CREATE TABLE IF NOT EXISTS catalog_events (
    catalog_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    uid VARCHAR(64) NOT NULL,
    slug VARCHAR(191) NOT NULL,
    status VARCHAR(16) NOT NULL,
    sequence INT NOT NULL,
    start_utc DATETIME NULL,
    end_utc DATETIME NULL,
    location_slug VARCHAR(191) NULL,
    snapshot MEDIUMTEXT NOT NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY ix_catalog_events_location (location_slug, end_utc),
    KEY ix_catalog_events_end (end_utc)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
