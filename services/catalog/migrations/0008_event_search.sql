-- Full-text search: one document per event and language, holding what a reader in that
-- language sees (each translated field, English where it is missing) and the lineup's artist
-- names. Rebuilt by the staff writes that change any of it (queries/search.py).
CREATE TABLE IF NOT EXISTS event_search (
    event_id BIGINT UNSIGNED NOT NULL,
    language CHAR(2) NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (event_id, language),
    FULLTEXT KEY ft_event_search_document (document),
    CONSTRAINT fk_event_search_event FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO event_search (event_id, language, document)
SELECT e.id, lang.code, CONCAT_WS(' ',
        COALESCE(NULLIF(t.title, ''), e.title),
        COALESCE(NULLIF(t.subtitle, ''), e.subtitle),
        COALESCE(NULLIF(t.description, ''), e.description),
        (SELECT GROUP_CONCAT(a.name SEPARATOR ' ') FROM event_artists ea JOIN artists a ON a.id = ea.artist_id
         WHERE ea.event_id = e.id))
FROM events e
CROSS JOIN (SELECT 'en' AS code UNION ALL SELECT 'it' UNION ALL SELECT 'fr' UNION ALL SELECT 'es') lang
LEFT JOIN event_translations t ON t.event_id = e.id AND t.language = lang.code;
