-- Merging two users (a unionid showed them to be one person) moves all the
-- merged-away user's sessions, revoked ones included, inside a login's
-- transaction; the init migration's index on user_id covers only live
-- sessions, which left that UPDATE (and the ON DELETE CASCADE from users)
-- reading the whole table. One whole index replaces it: the live-session
-- lookups use it as well, filtering the few revoked rows a user has (ended
-- sessions are purged after 7 days).
--
-- Not in a transaction, so that CONCURRENTLY builds it without blocking
-- logins; a failed build's invalid leftover is dropped first, so running
-- this again after a failure at any point ends in the same state.
SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS sessions_user_id_all_idx;

--bun:split

CREATE INDEX CONCURRENTLY sessions_user_id_all_idx ON sessions (user_id);

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS sessions_user_id_idx;
