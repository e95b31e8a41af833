-- The admin users listing (ListUsers) at a million users: keyset pages in
-- two orders, a nickname substring search and exact lookups by phone,
-- openid and unionid, none of which may read the whole table.
--
-- Not in a transaction, so that CONCURRENTLY can build the indexes without
-- blocking logins. A build that failed leaves an invalid index behind, so
-- each index is dropped (if there) and built again: running this again after
-- a failure at any point ends in the same state. The builds read whole
-- tables, so they are not held to the server's statement timeout; this
-- session is Migrate's own and ends with it.
SET statement_timeout = 0;

--bun:split

-- gin_trgm_ops. pg_trgm is a trusted extension (PostgreSQL 13+), so the
-- database owner may create it without superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_nickname_trgm_idx;

--bun:split

-- nickname ILIKE '%…%'.
CREATE INDEX CONCURRENTLY users_nickname_trgm_idx ON users USING gin (nickname gin_trgm_ops);

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_created_at_id_idx;

--bun:split

-- Keyset order by creation; read backwards for newest first.
CREATE INDEX CONCURRENTLY users_created_at_id_idx ON users (created_at, id);

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_last_login_at_id_idx;

--bun:split

-- Keyset order by last login. A user who never logged in (NULL) sorts as
-- -infinity, so first ascending and last descending, and one index serves
-- both directions: ListUsers orders and compares by exactly this expression.
CREATE INDEX CONCURRENTLY users_last_login_at_id_idx ON users ((COALESCE(last_login_at, '-infinity'::timestamptz)), id);

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_phone_idx;

--bun:split

-- Exact phone (E.164) lookup; most users have none.
CREATE INDEX CONCURRENTLY users_phone_idx ON users (phone) WHERE phone IS NOT NULL;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS identities_openid_idx;

--bun:split

-- An openid alone, whatever the app: the unique (provider, appid, openid)
-- index cannot serve a lookup that does not know its leading columns.
CREATE INDEX CONCURRENTLY identities_openid_idx ON identities (openid);

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS identities_unionid_any_provider_idx;

--bun:split

-- A unionid alone, whatever the provider, for the same reason.
CREATE INDEX CONCURRENTLY identities_unionid_any_provider_idx ON identities (unionid) WHERE unionid IS NOT NULL;
