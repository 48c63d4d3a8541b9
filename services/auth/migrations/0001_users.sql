-- Accounts. Emails are stored lower-cased; the unicode_ci collation makes usernames unique
-- regardless of case. password_hash is NULL for accounts that only sign in through a provider.
CREATE TABLE IF NOT EXISTS users (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(254) NOT NULL,
    username VARCHAR(32) NOT NULL,
    password_hash VARCHAR(255) NULL,
    display_name VARCHAR(100) NULL,
    language CHAR(2) NOT NULL DEFAULT 'en',
    avatar_url VARCHAR(500) NULL,
    sl_avatar_name VARCHAR(64) NULL,
    role VARCHAR(16) NOT NULL DEFAULT 'user',
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    email_verified TINYINT(1) NOT NULL DEFAULT 0,
    patreon_tier VARCHAR(64) NULL,
    last_login_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_users_email (email),
    UNIQUE KEY uq_users_username (username),
    KEY ix_users_role (role)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
