SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS sessions_user_id_idx;

--bun:split

CREATE INDEX CONCURRENTLY sessions_user_id_idx ON sessions (user_id) WHERE revoked_at IS NULL;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS sessions_user_id_all_idx;
