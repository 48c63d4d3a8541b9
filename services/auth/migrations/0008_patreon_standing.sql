-- The user's Patreon standing as membership announces it (tier id in patreon_tier, its amount
-- here); both NULL for a non-supporter. Access tokens carry them as patreon_tier / patreon_cents.
ALTER TABLE users ADD COLUMN patreon_cents INT UNSIGNED NULL AFTER patreon_tier;
-- When membership's latest applied supporter event happened: an older one arriving late is ignored.
ALTER TABLE users ADD COLUMN patreon_changed_at DATETIME(6) NULL AFTER patreon_cents;
