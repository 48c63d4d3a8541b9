-- Throttle counters, shared by every replica: one row per counted hit (failed sign-in, mail request).
-- subject is a keyed hash (HMAC-SHA-256) of the email (lower-cased) or client IP, so no address is stored in clear.
-- ix_throttle_hits_time lets housekeeping delete old hits without scanning (and locking) the whole table.
CREATE TABLE IF NOT EXISTS throttle_hits (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    bucket VARCHAR(32) NOT NULL,
    subject CHAR(64) NOT NULL,
    hit_at DATETIME(6) NOT NULL,
    KEY ix_throttle_hits_subject (bucket, subject, hit_at),
    KEY ix_throttle_hits_time (hit_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
