-- A flood of failed admin sign-ins used to write one audit_log row per
-- failure (415 rows in 12 s). Now the first failure of a group (reason,
-- target, client network) in a window writes the row, and the rest of the
-- window only raise that row's detail.count and detail.lastAt: the one
-- kind of audit_log row that is updated after it is written. The group is
-- counted in login_attempts under a 'fail:' key, whose audit_id names the
-- window's row.
ALTER TABLE login_attempts ADD COLUMN audit_id uuid;
