-- Back to a plain lookup index. Numbers the up migration cleared stay
-- cleared: its user.unbind_phone audit rows say which.
SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_phone_idx;

--bun:split

CREATE INDEX CONCURRENTLY users_phone_idx ON users (phone) WHERE phone IS NOT NULL;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_phone_key;
