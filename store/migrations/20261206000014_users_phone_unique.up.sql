-- A phone number belongs to one user. bindPhoneNumber did not tie a phone
-- code to the caller, so one number could end up on two users (a code minted
-- for alice, sent with mallory's token); it now refuses a number another
-- user has (PHONE_IN_USE), and this unique index is what decides, also
-- between two binds of one number at once.
--
-- Numbers already on several users are first left on one: the user who
-- bound it first keeps it, as the refusal would have had it, and so a number
-- taken through the hole goes back to whoever had it before. "Bound" is the
-- user's latest user.bind_phone audit row (the bind that set the number they
-- have); users with none (a number taken over in a merge, or set by hand)
-- come after those with one, then by created_at and id. Each user whose
-- number is cleared gets a user.unbind_phone audit row naming the user who
-- kept it, with the country code and a masked number only.
--
-- Not in a transaction, so that CONCURRENTLY builds the index without
-- blocking logins (as 20261129000002_users_search does). A bind still
-- running on an older instance between the clean-up and the build can make
-- the build fail; running this again (every statement may be repeated)
-- cleans up again and rebuilds.
SET statement_timeout = 0;

--bun:split

WITH dup AS (
    SELECT u.id, u.phone, u.phone_country_code AS cc,
           first_value(u.id) OVER w AS kept_by,
           row_number() OVER w AS rank
    FROM users u
    LEFT JOIN LATERAL (
        SELECT max(a.at) AS at FROM audit_log a
        WHERE a.target = u.id::text AND a.action = 'user.bind_phone'
    ) bound ON true
    WHERE u.phone IN (SELECT phone FROM users WHERE phone IS NOT NULL GROUP BY phone HAVING count(*) > 1)
    WINDOW w AS (PARTITION BY u.phone ORDER BY bound.at ASC NULLS LAST, u.created_at, u.id)
), cleared AS (
    UPDATE users u SET phone = NULL, phone_country_code = NULL, updated_at = now()
    FROM dup
    WHERE u.id = dup.id AND dup.rank > 1
    RETURNING u.id, dup.kept_by, dup.phone, dup.cc
)
-- The mask is auth.MaskPhone's: the country code, the national number's
-- first three digits when it has 11 or more, its last four (two when it has
-- fewer than 8), '*' for the rest.
INSERT INTO audit_log (id, actor_kind, actor_name, action, target, detail)
SELECT gen_random_uuid(), 'system', 'migration 20261206000014', 'user.unbind_phone', c.id::text,
       jsonb_build_object(
           'reason', 'the number was bound to several users; the first to bind it keeps it',
           'keptBy', c.kept_by, 'countryCode', c.cc,
           'phone', '+' || n.cc || left(n.nat, m.head) || repeat('*', length(n.nat) - m.head - m.tail) || right(n.nat, m.tail))
FROM cleared c
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.cc <> '' AND starts_with(c.phone, '+' || c.cc) THEN c.cc ELSE '' END AS cc,
           CASE WHEN c.cc <> '' AND starts_with(c.phone, '+' || c.cc) THEN substr(c.phone, length(c.cc) + 2)
                ELSE ltrim(c.phone, '+') END AS nat
) n
CROSS JOIN LATERAL (
    SELECT CASE WHEN length(n.nat) >= 11 THEN 3 ELSE 0 END AS head,
           CASE WHEN length(n.nat) < 8 THEN 2 ELSE 4 END AS tail
) h
CROSS JOIN LATERAL (
    SELECT CASE WHEN h.head + h.tail >= length(n.nat) THEN 0 ELSE h.head END AS head,
           CASE WHEN h.head + h.tail >= length(n.nat) THEN 0 ELSE h.tail END AS tail
) m;

--bun:split

DROP INDEX CONCURRENTLY IF EXISTS users_phone_key;

--bun:split

-- Exact phone (E.164) lookup, as users_phone_idx was, and one user per number.
CREATE UNIQUE INDEX CONCURRENTLY users_phone_key ON users (phone) WHERE phone IS NOT NULL;

--bun:split

-- The unique index serves the lookups the old one did.
DROP INDEX CONCURRENTLY IF EXISTS users_phone_idx;
