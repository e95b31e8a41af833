DROP TRIGGER IF EXISTS users_notify_update ON users;

--bun:split

CREATE TRIGGER users_notify_update AFTER UPDATE ON users FOR EACH ROW
    WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at
          OR OLD.disabled_at IS DISTINCT FROM NEW.disabled_at
          OR OLD.nickname IS DISTINCT FROM NEW.nickname
          OR OLD.avatar_url IS DISTINCT FROM NEW.avatar_url
          OR OLD.phone IS DISTINCT FROM NEW.phone)
    EXECUTE FUNCTION wxlogin_user_notify();
