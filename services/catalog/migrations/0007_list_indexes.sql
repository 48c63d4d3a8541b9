-- Lists read events through an index in the order they are shown, so a page costs the same
-- however many events the table holds (EXPLAIN: a range on the index, no filesort).
-- `is_public` (published or cancelled) is filtered row by row: drafts are few. It is not an
-- index prefix on purpose: given `is_public = 1` MariaDB reads by ref from the first public
-- event ever and filters the start, instead of a range starting at the start asked for.
-- (status, start_utc) serves the staff list by status; (location_id, start_utc) the venues'.
ALTER TABLE events
    ADD COLUMN is_public TINYINT(1) AS (status IN ('published', 'cancelled')) STORED,
    ADD KEY ix_events_status_start (status, start_utc),
    ADD KEY ix_events_start (start_utc),
    ADD KEY ix_events_featured_start (is_featured, start_utc),
    DROP KEY ix_events_public;
-- An artist's events are read from the lineup table in start order: each slot carries its
-- event's start and visibility (kept by the staff writes, see queries/admin_events.py).
ALTER TABLE event_artists
    ADD COLUMN start_utc DATETIME(6) NULL,
    ADD COLUMN is_public TINYINT(1) NOT NULL DEFAULT 0,
    ADD KEY ix_event_artists_artist_start (artist_id, start_utc, event_id);
UPDATE event_artists ea JOIN events e ON e.id = ea.event_id
    SET ea.start_utc = e.start_utc, ea.is_public = e.is_public;
