-- The users page's DISABLED_AT order (issue 21): disabled users, newest or
-- oldest disable first, keyset-paginated on (disabled_at, id) as the other
-- orders are. Partial: only disabled users are in it (a few in a million),
-- and the order is only taken with the filter disabled: true, whose
-- condition (disabled_at IS NOT NULL) is this index's, so the planner uses
-- it; an erased user's disabled_at is NULL, so tombstones are not in it.
--
-- Not in a transaction, so that CONCURRENTLY builds the index without
-- blocking logins; dropped first, so a run after a failed build (which
-- leaves an invalid index) ends in the same state.
SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_disabled_at_idx;

--bun:split

CREATE INDEX CONCURRENTLY users_disabled_at_idx ON users (disabled_at, id) WHERE disabled_at IS NOT NULL;
