-- Per-row backoff: a row the broker refused (unroutable, nacked) waits before the next try,
-- without holding back the rows after it.
ALTER TABLE outbox ADD COLUMN next_attempt_at DATETIME(6) NULL;
