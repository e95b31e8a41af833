-- A nickname search too short for the trigram index (under three letters or
-- digits in a row: "王", "zq", "%") matches the start of the nickname
-- instead of any part of it, on this index: a substring search that no
-- trigram narrows reads every user, 0.4-0.9 s at a million. text_pattern_ops
-- so that LIKE 'ab%' is a range scan whatever the database's collation.
--
-- Not in a transaction, so that CONCURRENTLY builds the index without
-- blocking logins; dropped first, so a run after a failed build (which
-- leaves an invalid index) ends in the same state. The build reads the whole
-- table, so it is not held to the server's statement timeout.
SET statement_timeout = 0;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_nickname_prefix_idx;

--bun:split

-- ListUsers compares exactly this expression: lower(u.nickname) LIKE lower(…).
CREATE INDEX CONCURRENTLY users_nickname_prefix_idx ON users (lower(nickname) text_pattern_ops);

--bun:split

-- The expression index's statistics are what tell the planner that a rare
-- prefix ('\%%', 'zq%') is rare. Until autovacuum gets round to them it
-- guesses 0.5% of users and walks users_created_at_id_idx through every
-- user looking for 21 (4 s at two million). ANALYZE samples, so it takes
-- about a second however many users there are.
ANALYZE users;
