-- The users search's tail form: four digits find the users whose phone ends
-- with them (store.parsePhoneSearch). Without an index that is a read of
-- every user with a phone; with it, a handful of index entries.
--
-- Not in a transaction, so that CONCURRENTLY builds the index without
-- blocking logins; dropped first, so a run after a failed build (which
-- leaves an invalid index) ends in the same state. The build reads the whole
-- table, so it is not held to the server's statement timeout.
SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_phone_tail_idx;

--bun:split

-- ListUsers compares exactly this expression: right(u.phone, 4) = '8000'.
-- Phones are E.164, so the last four characters are the last four digits.
--
-- Not partial (WHERE phone IS NOT NULL), though most users have no phone:
-- the planner ignores the statistics of a partial index's expression (PG
-- 15's examine_variable skips them), guesses 0.5% of users (5,000 at a
-- million) for a tail, and walks users_created_at_id_idx through 600,000
-- users looking for the first 21 (1.4 s). With the statistics it expects
-- the ~30 users a tail has and reads them from this index (ms).
CREATE INDEX CONCURRENTLY users_phone_tail_idx ON users (right(phone, 4));

--bun:split

-- Statistics of the new expression, so that the planner knows a tail is rare
-- before autovacuum gets round to it (see 20261206000012).
ANALYZE users;
