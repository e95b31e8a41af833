DROP TABLE IF EXISTS audit_log;

--bun:split

DROP TABLE IF EXISTS login_attempts;

--bun:split

DROP TABLE IF EXISTS admin_sessions;

--bun:split

DROP TABLE IF EXISTS admins;
