-- UI strings: `text` is the English text of a key; other languages in i18n_string_translations.
CREATE TABLE IF NOT EXISTS i18n_strings (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    string_key VARCHAR(150) NOT NULL,
    text TEXT NOT NULL,
    description VARCHAR(255) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_i18n_strings_key (string_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS i18n_string_translations (
    string_id BIGINT UNSIGNED NOT NULL,
    language CHAR(2) NOT NULL,
    text TEXT NULL,
    PRIMARY KEY (string_id, language),
    CONSTRAINT fk_i18n_string_translations FOREIGN KEY (string_id) REFERENCES i18n_strings (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
