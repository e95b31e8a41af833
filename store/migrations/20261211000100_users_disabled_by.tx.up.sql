-- Who disabled a user (issue 21, accountability): the admin whose
-- disableUser is in force, beside disabled_at (when) and disabled_reason
-- (why), so that the users page can show and sort the three without reading
-- the audit log. Set and cleared in the transaction that writes the
-- user.disable or user.enable audit row; NULL for an enabled user, and for
-- a disabled one whose admin row is gone or that no admin disabled.
ALTER TABLE users ADD COLUMN disabled_by uuid REFERENCES admins (id) ON DELETE SET NULL;

--bun:split

-- Users disabled before this column: the admin of the latest user.disable
-- entry about them (audit_log_target_idx finds it per user; disabled users
-- are few). None found leaves NULL, as for a disable no admin made.
UPDATE users AS u SET disabled_by = (
    SELECT a.actor_id FROM audit_log AS a
    WHERE a.target = u.id::text AND a.action = 'user.disable' AND a.actor_kind = 'admin'
      AND a.at >= u.disabled_at - interval '1 minute'
      AND EXISTS (SELECT 1 FROM admins WHERE admins.id = a.actor_id)
    ORDER BY a.at DESC, a.id DESC LIMIT 1)
WHERE u.disabled_at IS NOT NULL;
