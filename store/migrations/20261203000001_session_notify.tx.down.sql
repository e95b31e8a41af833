DROP TRIGGER IF EXISTS users_notify_delete ON users;

--bun:split

DROP TRIGGER IF EXISTS users_notify_update ON users;

--bun:split

DROP FUNCTION IF EXISTS wxlogin_user_notify();

--bun:split

DROP TRIGGER IF EXISTS sessions_notify_delete ON sessions;

--bun:split

DROP TRIGGER IF EXISTS sessions_notify_update ON sessions;

--bun:split

DROP FUNCTION IF EXISTS wxlogin_session_notify();
