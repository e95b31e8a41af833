DROP INDEX CONCURRENTLY IF EXISTS sessions_revoked_at_idx;
