-- One row per (integration, target, catalog event): "make this target show the read model's
-- state of that event". A newer catalog change bumps `version` and makes the row pending again,
-- so several changes in a row cost one push of the latest state. A worker claims rows with
-- SELECT ... FOR UPDATE SKIP LOCKED and a lease (replicas share the work); it finishes a row
-- only if `version` is still the one it claimed.
--   status: pending (to do), done, failed (parked; the sweep retries it at next_attempt_at,
--   or never when next_attempt_at is NULL: stopped until an admin retries), dropped (by an admin).
CREATE TABLE IF NOT EXISTS pushes (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    integration VARCHAR(32) NOT NULL,
    target VARCHAR(32) NOT NULL,
    catalog_id BIGINT UNSIGNED NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    version INT NOT NULL DEFAULT 1,
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6) NULL,
    lease_until DATETIME(6) NULL,
    last_error VARCHAR(1000) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    done_at DATETIME(6) NULL,
    UNIQUE KEY uq_pushes_target_event (integration, target, catalog_id),
    KEY ix_pushes_due (status, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What each target holds for an event: the remote id (Google event id, Facebook post id), the
-- catalog sequence it shows, and a fingerprint of what a change must alter to be re-sent.
CREATE TABLE IF NOT EXISTS remote_links (
    integration VARCHAR(32) NOT NULL,
    target VARCHAR(32) NOT NULL,
    catalog_id BIGINT UNSIGNED NOT NULL,
    remote_id VARCHAR(1024) NULL,
    pushed_sequence INT NOT NULL,
    fingerprint CHAR(64) NULL,
    removed TINYINT(1) NOT NULL DEFAULT 0,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (integration, target, catalog_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The targets this deployment pushes to, written from the settings at start-up: the consumer
-- records a push for each of them in the transaction that applies a catalog event.
CREATE TABLE IF NOT EXISTS push_targets (
    integration VARCHAR(32) NOT NULL,
    target VARCHAR(32) NOT NULL,
    PRIMARY KEY (integration, target)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
