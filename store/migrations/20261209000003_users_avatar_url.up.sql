-- Removing a risky or rejected avatar deletes its file unless another user
-- has the same content (files are content-addressed, so the same avatar_url):
-- this index answers that without reading every user. Partial: most users
-- have no uploaded avatar.
--
-- Not in a transaction, so that CONCURRENTLY builds the index without
-- blocking logins; dropped first, so a run after a failed build (which
-- leaves an invalid index) ends in the same state.
SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_avatar_url_idx;

--bun:split

CREATE INDEX CONCURRENTLY users_avatar_url_idx ON users (avatar_url) WHERE avatar_url IS NOT NULL;
