-- PurgeSessions walks revoked sessions in revoked_at order; expired ones it
-- walks with sessions_expires_at_idx from the init migration. Partial: most
-- sessions are never revoked, and the lookup of active sessions needs none
-- of this.
--
-- Not in a transaction, so that CONCURRENTLY can build the index without
-- blocking logins on a large table. A build that failed leaves an invalid
-- index behind, so any leftover is dropped first. The build reads the whole
-- table, so it is not held to the server's statement timeout; this session
-- is Migrate's own and ends with it.
SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS sessions_revoked_at_idx;

--bun:split

CREATE INDEX CONCURRENTLY sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
