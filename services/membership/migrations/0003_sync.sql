-- Webhook deliveries as received: never the body, never the secret.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    event_trigger VARCHAR(64) NULL,
    verified TINYINT(1) NOT NULL,
    body_sha256 CHAR(64) NULL,
    patreon_member_id VARCHAR(64) NULL,
    outcome VARCHAR(32) NOT NULL,
    detail VARCHAR(255) NULL,
    KEY ix_deliveries_received (received_at),
    KEY ix_deliveries_body (body_sha256, outcome)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Reconciliation runs. `next_cursor` is the page still to read, saved after each page, so a
-- run whose replica died is taken over from there.
CREATE TABLE IF NOT EXISTS sync_runs (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    run_trigger VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    started_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    finished_at DATETIME(6) NULL,
    next_cursor VARCHAR(1000) NULL,
    pages INT UNSIGNED NOT NULL DEFAULT 0,
    members_seen INT UNSIGNED NOT NULL DEFAULT 0,
    changed INT UNSIGNED NOT NULL DEFAULT 0,
    deactivated INT UNSIGNED NOT NULL DEFAULT 0,
    resumed INT UNSIGNED NOT NULL DEFAULT 0,
    throttled INT UNSIGNED NOT NULL DEFAULT 0,
    error VARCHAR(500) NULL,
    KEY ix_sync_runs_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- The claim that lets one replica at a time reconcile: whoever holds an unexpired lease runs.
CREATE TABLE IF NOT EXISTS sync_lease (
    name VARCHAR(32) NOT NULL PRIMARY KEY,
    holder VARCHAR(64) NULL,
    expires_at DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT IGNORE INTO sync_lease (name, holder, expires_at) VALUES ('reconcile', NULL, NULL);
