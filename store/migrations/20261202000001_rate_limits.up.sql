-- Rate-limit counters (see ratelimit/postgres.go): one row per key, counting
-- hits in the window that ends at reset_at. UNLOGGED: written on every
-- limited request, so it skips the WAL; a crash or a failover to a standby
-- empties it, which only resets the counts.
CREATE UNLOGGED TABLE rate_limits (
    key      text PRIMARY KEY,
    n        bigint NOT NULL,
    reset_at timestamptz NOT NULL
);
