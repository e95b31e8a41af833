-- An erasure deletes a user's identities, and sessions.identity_id's
-- ON DELETE CASCADE then looks for each identity's sessions: without an
-- index on the column, every deleted identity read the whole sessions
-- table (erasing 100 accounts took 200 ms on a nearly empty one).
--
-- Not in a transaction, so that CONCURRENTLY builds it without blocking
-- logins; a failed build's invalid leftover is dropped first, so running
-- this again after a failure at any point ends in the same state.
SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS sessions_identity_id_idx;

--bun:split

CREATE INDEX CONCURRENTLY sessions_identity_id_idx ON sessions (identity_id);
