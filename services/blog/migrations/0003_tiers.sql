-- Read model of membership's Patreon tiers (membership.tier.updated): the name to show on a
-- locked post ("the Nebula tier, 5.00 and up"). `translations` is JSON text: {lang: title}.
CREATE TABLE IF NOT EXISTS patreon_tiers (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    amount_cents INT UNSIGNED NOT NULL,
    translations TEXT NOT NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY ix_patreon_tiers_amount (amount_cents)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
