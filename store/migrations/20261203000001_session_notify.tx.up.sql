-- Cross-instance session cache invalidation (see store/listen.go and
-- sessioncache/). Every change that can make a cached session or its user
-- snapshot wrong sends a notification on the channel wxlogin_session from a
-- trigger, so it is part of the changing transaction and delivered at
-- commit, whatever code path (server, admin CLI, ad-hoc SQL) made it:
--   t:<token hash hex>  the session was revoked, moved to another user
--                       (merge), re-dated or deleted while live
--   u:<user id>         the user's profile, phone or disabled state changed,
--                       or the user was deleted (merged away)
-- A login that only moves last_login_at notifies nothing: a cached
-- lastLoginAt is at most SESSION_CACHE_TTL old. INSERTs notify nothing: a
-- new session is not cached anywhere yet.
CREATE FUNCTION wxlogin_session_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wxlogin_session', 't:' || encode(OLD.token_hash, 'hex'));
    RETURN NULL;
END $$;

--bun:split

CREATE TRIGGER sessions_notify_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
          OR OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.identity_id IS DISTINCT FROM NEW.identity_id
          OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          OR OLD.token_hash IS DISTINCT FROM NEW.token_hash)
    EXECUTE FUNCTION wxlogin_session_notify();

--bun:split

CREATE TRIGGER sessions_notify_delete AFTER DELETE ON sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL)
    EXECUTE FUNCTION wxlogin_session_notify();

--bun:split

CREATE FUNCTION wxlogin_user_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wxlogin_session', 'u:' || OLD.id::text);
    RETURN NULL;
END $$;

--bun:split

CREATE TRIGGER users_notify_update AFTER UPDATE ON users FOR EACH ROW
    WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at
          OR OLD.disabled_at IS DISTINCT FROM NEW.disabled_at
          OR OLD.nickname IS DISTINCT FROM NEW.nickname
          OR OLD.avatar_url IS DISTINCT FROM NEW.avatar_url
          OR OLD.phone IS DISTINCT FROM NEW.phone)
    EXECUTE FUNCTION wxlogin_user_notify();

--bun:split

CREATE TRIGGER users_notify_delete AFTER DELETE ON users FOR EACH ROW
    EXECUTE FUNCTION wxlogin_user_notify();
