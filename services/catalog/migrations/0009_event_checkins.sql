-- Check-ins of DJs and hosts at a venue, from Second Life objects (integration.sl.checked_in).
-- `bus_event_id` is the bus event's id: one row per event however often it is delivered.
CREATE TABLE IF NOT EXISTS event_checkins (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    bus_event_id CHAR(36) NOT NULL,
    event_id BIGINT UNSIGNED NOT NULL,
    location_slug VARCHAR(100) NULL,
    avatar_key CHAR(36) NOT NULL,
    avatar_name VARCHAR(100) NOT NULL,
    checked_in_at DATETIME(6) NOT NULL,
    recorded_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_event_checkins_bus_event (bus_event_id),
    KEY ix_event_checkins_event (event_id, checked_in_at),
    CONSTRAINT fk_event_checkins_event FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
