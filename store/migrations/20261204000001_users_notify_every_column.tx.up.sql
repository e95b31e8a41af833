-- users_notify_update fired only for the columns the server's own writes
-- change (with updated_at): a hand-written UPDATE of city or gender left
-- other instances answering the old value from their session caches until
-- the TTL. It now fires for every column but last_login_at, which every
-- login moves (a cached lastLoginAt may be one SESSION_CACHE_TTL old).
-- A column added to users must be added here.
DROP TRIGGER IF EXISTS users_notify_update ON users;

--bun:split

CREATE TRIGGER users_notify_update AFTER UPDATE ON users FOR EACH ROW
    WHEN ((OLD.id, OLD.nickname, OLD.avatar_url, OLD.gender, OLD.language, OLD.city, OLD.province, OLD.country,
           OLD.phone, OLD.phone_country_code, OLD.disabled_at, OLD.disabled_reason, OLD.created_at, OLD.updated_at)
          IS DISTINCT FROM
          (NEW.id, NEW.nickname, NEW.avatar_url, NEW.gender, NEW.language, NEW.city, NEW.province, NEW.country,
           NEW.phone, NEW.phone_country_code, NEW.disabled_at, NEW.disabled_reason, NEW.created_at, NEW.updated_at))
    EXECUTE FUNCTION wxlogin_user_notify();
