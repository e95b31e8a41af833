SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS sessions_identity_id_idx;
