-- Account deletion (deleteAccount, deleteUser, the erasure job; issue 19).
-- deletion_requested_at and erase_at are set together by deleteAccount and
-- cleared together by a login inside the cooling-off period; deleted_at marks
-- an erased user, a tombstone whose personal columns are all NULL and which
-- keeps only id, created_at and deleted_at so that audit rows still point at
-- something. Nullable columns without a default: adding them rewrites nothing.
ALTER TABLE users
    ADD COLUMN deletion_requested_at timestamptz,
    ADD COLUMN erase_at timestamptz,
    ADD COLUMN deleted_at timestamptz;

--bun:split

-- The erasure job's queue: the accounts due, oldest first. Small (only
-- pending deletions), so building it in the transaction blocks nothing long.
CREATE INDEX users_erase_at_idx ON users (erase_at) WHERE erase_at IS NOT NULL AND deleted_at IS NULL;

--bun:split

-- The admin stats count erased users apart (deletedUsers, and totalUsers
-- without them).
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;

--bun:split

-- The session cache keeps a user snapshot: a change of the new columns must
-- reach every instance like any other (see 20261204000001).
DROP TRIGGER IF EXISTS users_notify_update ON users;

--bun:split

CREATE TRIGGER users_notify_update AFTER UPDATE ON users FOR EACH ROW
    WHEN ((OLD.id, OLD.nickname, OLD.avatar_url, OLD.gender, OLD.language, OLD.city, OLD.province, OLD.country,
           OLD.phone, OLD.phone_country_code, OLD.disabled_at, OLD.disabled_reason, OLD.created_at, OLD.updated_at,
           OLD.deletion_requested_at, OLD.erase_at, OLD.deleted_at)
          IS DISTINCT FROM
          (NEW.id, NEW.nickname, NEW.avatar_url, NEW.gender, NEW.language, NEW.city, NEW.province, NEW.country,
           NEW.phone, NEW.phone_country_code, NEW.disabled_at, NEW.disabled_reason, NEW.created_at, NEW.updated_at,
           NEW.deletion_requested_at, NEW.erase_at, NEW.deleted_at))
    EXECUTE FUNCTION wxlogin_user_notify();
