-- Uploaded images: the decoded, EXIF-free files live on disk under catalog_media_dir/<id>/;
-- this row is what the API knows about them. Other tables point here for their pictures.
CREATE TABLE IF NOT EXISTS media (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    storage_key CHAR(32) NOT NULL,
    original_filename VARCHAR(255) NULL,
    content_type VARCHAR(64) NOT NULL,
    extension VARCHAR(8) NOT NULL,
    width INT NOT NULL,
    height INT NOT NULL,
    bytes INT NOT NULL,
    variants TEXT NOT NULL,
    alt_text VARCHAR(255) NULL,
    uploaded_by VARCHAR(64) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_media_storage_key (storage_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
