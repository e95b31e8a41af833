-- pg_trgm stays: dropping an extension the database may have had before this
-- migration, or that something else now uses, is not this migration's call.
DROP INDEX CONCURRENTLY IF EXISTS identities_unionid_any_provider_idx;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS identities_openid_idx;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_phone_idx;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_last_login_at_id_idx;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_created_at_id_idx;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_nickname_trgm_idx;
