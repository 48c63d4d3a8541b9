-- The service's own read model of who can be mailed, kept from auth's events. Deleting an
-- account deletes its row (auth.user.deleted); nothing here is copied from auth's schema.
CREATE TABLE IF NOT EXISTS recipients (
    user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    email VARCHAR(320) NOT NULL,
    username VARCHAR(100) NULL,
    language CHAR(2) NOT NULL DEFAULT 'en',
    email_verified TINYINT(1) NOT NULL DEFAULT 0,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    -- Set by auth.user.registered: the welcome mail goes out once the address is verified.
    welcome_due TINYINT(1) NOT NULL DEFAULT 0,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- What each reader asked for. No row: the defaults (no reminders, no newsletter).
CREATE TABLE IF NOT EXISTS preferences (
    user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    event_reminders TINYINT(1) NOT NULL DEFAULT 0,
    reminder_hours_before SMALLINT UNSIGNED NOT NULL DEFAULT 24,
    newsletter TINYINT(1) NOT NULL DEFAULT 0,
    -- Welcome and thank-you mails; one-click unsubscribe from them turns this off.
    account_mail TINYINT(1) NOT NULL DEFAULT 1,
    language CHAR(2) NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Favourites by catalog id (a renamed slug keeps the favourite); the API speaks slugs.
CREATE TABLE IF NOT EXISTS favourite_locations (
    user_id BIGINT UNSIGNED NOT NULL,
    location_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (user_id, location_id),
    KEY ix_favourite_locations_location (location_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS favourite_artists (
    user_id BIGINT UNSIGNED NOT NULL,
    artist_id BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (user_id, artist_id),
    KEY ix_favourite_artists_artist (artist_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
