DROP TRIGGER IF EXISTS admins_notify_delete ON admins;

--bun:split

DROP TRIGGER IF EXISTS admins_notify_update ON admins;

--bun:split

DROP FUNCTION IF EXISTS wxlogin_admin_notify();

--bun:split

DROP TRIGGER IF EXISTS admin_sessions_notify_delete ON admin_sessions;

--bun:split

DROP TRIGGER IF EXISTS admin_sessions_notify_update ON admin_sessions;

--bun:split

DROP FUNCTION IF EXISTS wxlogin_admin_session_notify();
