-- The user's Patreon standing as membership announces it (tier id in patreon_tier, its amount
-- here); both NULL for a non-supporter. Access tokens carry them as patreon_tier / patreon_cents.
ALTER TABLE users ADD COLUMN patreon_cents INT UNSIGNED NULL AFTER patreon_tier;
