DROP TRIGGER IF EXISTS users_notify_update ON users;

--bun:split

CREATE TRIGGER users_notify_update AFTER UPDATE ON users FOR EACH ROW
    WHEN ((OLD.id, OLD.nickname, OLD.avatar_url, OLD.gender, OLD.language, OLD.city, OLD.province, OLD.country,
           OLD.phone, OLD.phone_country_code, OLD.disabled_at, OLD.disabled_reason, OLD.created_at, OLD.updated_at)
          IS DISTINCT FROM
          (NEW.id, NEW.nickname, NEW.avatar_url, NEW.gender, NEW.language, NEW.city, NEW.province, NEW.country,
           NEW.phone, NEW.phone_country_code, NEW.disabled_at, NEW.disabled_reason, NEW.created_at, NEW.updated_at))
    EXECUTE FUNCTION wxlogin_user_notify();

--bun:split

DROP INDEX IF EXISTS users_deleted_at_idx;

--bun:split

DROP INDEX IF EXISTS users_erase_at_idx;

--bun:split

ALTER TABLE users DROP COLUMN IF EXISTS deletion_requested_at, DROP COLUMN IF EXISTS erase_at, DROP COLUMN IF EXISTS deleted_at;
