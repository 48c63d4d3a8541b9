-- Inbox: ids of events whose effect this service has committed, so a redelivery is a no-op.
CREATE TABLE IF NOT EXISTS processed_events (
    event_id CHAR(36) NOT NULL PRIMARY KEY,
    event_type VARCHAR(128) NOT NULL,
    processed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
