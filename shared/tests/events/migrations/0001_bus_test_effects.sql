-- What the test handlers do: one row per application of an event, deliberately without a
-- unique key, so an event applied twice shows up as two rows.
CREATE TABLE IF NOT EXISTS effects (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id CHAR(36) NOT NULL,
    note VARCHAR(100) NULL,
    KEY ix_effects_event (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
