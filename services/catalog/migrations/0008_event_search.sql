-- Full-text search: per event, one document per language holding what a reader in that
-- language sees (each translated field, English where it is missing) and the lineup's artist
-- names, each under its own FULLTEXT index so a search reads only its language's matches.
-- Rebuilt by the staff writes that change any of it (tdc_catalog/queries/search.py).
CREATE TABLE IF NOT EXISTS event_search (
    event_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    doc_en TEXT NOT NULL,
    doc_it TEXT NOT NULL,
    doc_fr TEXT NOT NULL,
    doc_es TEXT NOT NULL,
    FULLTEXT KEY ft_event_search_en (doc_en),
    FULLTEXT KEY ft_event_search_it (doc_it),
    FULLTEXT KEY ft_event_search_fr (doc_fr),
    FULLTEXT KEY ft_event_search_es (doc_es),
    CONSTRAINT fk_event_search_event FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO event_search (event_id, doc_en, doc_it, doc_fr, doc_es)
SELECT e.id,
    CONCAT_WS(' ', e.title, e.subtitle, e.description,
        (SELECT GROUP_CONCAT(a.name SEPARATOR ' ') FROM event_artists ea JOIN artists a ON a.id = ea.artist_id
         WHERE ea.event_id = e.id)),
    CONCAT_WS(' ', COALESCE(NULLIF(it.title, ''), e.title), COALESCE(NULLIF(it.subtitle, ''), e.subtitle),
        COALESCE(NULLIF(it.description, ''), e.description),
        (SELECT GROUP_CONCAT(a.name SEPARATOR ' ') FROM event_artists ea JOIN artists a ON a.id = ea.artist_id
         WHERE ea.event_id = e.id)),
    CONCAT_WS(' ', COALESCE(NULLIF(fr.title, ''), e.title), COALESCE(NULLIF(fr.subtitle, ''), e.subtitle),
        COALESCE(NULLIF(fr.description, ''), e.description),
        (SELECT GROUP_CONCAT(a.name SEPARATOR ' ') FROM event_artists ea JOIN artists a ON a.id = ea.artist_id
         WHERE ea.event_id = e.id)),
    CONCAT_WS(' ', COALESCE(NULLIF(es.title, ''), e.title), COALESCE(NULLIF(es.subtitle, ''), e.subtitle),
        COALESCE(NULLIF(es.description, ''), e.description),
        (SELECT GROUP_CONCAT(a.name SEPARATOR ' ') FROM event_artists ea JOIN artists a ON a.id = ea.artist_id
         WHERE ea.event_id = e.id))
FROM events e
LEFT JOIN event_translations it ON it.event_id = e.id AND it.language = 'it'
LEFT JOIN event_translations fr ON fr.event_id = e.id AND fr.language = 'fr'
LEFT JOIN event_translations es ON es.event_id = e.id AND es.language = 'es';
