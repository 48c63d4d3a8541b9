-- Lets housekeeping forget inbox rows older than the retention without a full scan.
ALTER TABLE processed_events ADD KEY ix_processed_events_at (processed_at);
