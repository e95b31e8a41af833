-- Cross-instance admin session cache invalidation, as
-- 20261203000001_session_notify does for users' sessions, on the same
-- channel (wxlogin_session) with payloads of their own:
--   at:<token hash hex>  the admin session was revoked, moved, re-dated or
--                        deleted while live
--   a:<admin id>         the admin's row changed (disabled, role, username,
--                        password…) or was deleted
-- A sign-in only moves last_login_at and inserts a session: it notifies
-- nothing (a cached lastLoginAt is at most SESSION_CACHE_TTL old), nor does
-- the touch of last_seen_at that keeps the idle timeout. A column added to
-- admins needs no change here (admins_notify_update compares whole rows).
CREATE FUNCTION wxlogin_admin_session_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wxlogin_session', 'at:' || encode(OLD.token_hash, 'hex'));
    RETURN NULL;
END $$;

--bun:split

CREATE TRIGGER admin_sessions_notify_update AFTER UPDATE ON admin_sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
          OR OLD.admin_id IS DISTINCT FROM NEW.admin_id
          OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.token_hash IS DISTINCT FROM NEW.token_hash)
    EXECUTE FUNCTION wxlogin_admin_session_notify();

--bun:split

CREATE TRIGGER admin_sessions_notify_delete AFTER DELETE ON admin_sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL)
    EXECUTE FUNCTION wxlogin_admin_session_notify();

--bun:split

CREATE FUNCTION wxlogin_admin_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wxlogin_session', 'a:' || OLD.id::text);
    RETURN NULL;
END $$;

--bun:split

-- Every column but last_login_at, compared as a whole row minus that one:
-- a column added later is covered without touching this trigger.
CREATE TRIGGER admins_notify_update AFTER UPDATE ON admins FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'last_login_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_login_at'))
    EXECUTE FUNCTION wxlogin_admin_notify();

--bun:split

CREATE TRIGGER admins_notify_delete AFTER DELETE ON admins FOR EACH ROW
    EXECUTE FUNCTION wxlogin_admin_notify();
