DROP INDEX CONCURRENTLY IF EXISTS users_nickname_prefix_idx;
