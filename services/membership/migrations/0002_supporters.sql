-- One row per Patreon user we know of: a member of the campaign (from webhooks and
-- reconciliation), an account of ours that linked its Patreon user, or both.
-- state_read_at is when the member state in this row was read from Patreon's API: a state
-- read earlier than the one held never replaces it, whatever order deliveries arrive in.
CREATE TABLE IF NOT EXISTS supporters (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    patreon_user_id VARCHAR(64) NOT NULL,
    patreon_member_id VARCHAR(64) NULL,
    user_id BIGINT UNSIGNED NULL,
    email VARCHAR(255) NULL,
    full_name VARCHAR(255) NULL,
    tier_id VARCHAR(64) NULL,
    amount_cents INT UNSIGNED NOT NULL DEFAULT 0,
    entitled_cents INT UNSIGNED NOT NULL DEFAULT 0,
    patron_status VARCHAR(32) NULL,
    is_active TINYINT(1) NOT NULL DEFAULT 0,
    lifetime_support_cents INT UNSIGNED NOT NULL DEFAULT 0,
    patron_since DATETIME(6) NULL,
    last_charge_date DATETIME(6) NULL,
    last_charge_status VARCHAR(32) NULL,
    state_read_at DATETIME(6) NULL,
    last_seen_run_id BIGINT UNSIGNED NULL,
    linked_at DATETIME(6) NULL,
    wall_opt_in TINYINT(1) NOT NULL DEFAULT 0,
    wall_name VARCHAR(100) NULL,
    wall_show_tier TINYINT(1) NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_supporters_patreon_user (patreon_user_id),
    UNIQUE KEY uq_supporters_member (patreon_member_id),
    UNIQUE KEY uq_supporters_user (user_id),
    KEY ix_supporters_active (is_active, tier_id),
    CONSTRAINT fk_supporters_tier FOREIGN KEY (tier_id) REFERENCES tiers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- A link in progress: the state handed to the browser (kept hashed), bound to the account
-- that asked, with its PKCE verifier; single use, short-lived.
CREATE TABLE IF NOT EXISTS link_states (
    state_hash CHAR(64) NOT NULL PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    code_verifier VARCHAR(128) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_link_states_user (user_id),
    KEY ix_link_states_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
