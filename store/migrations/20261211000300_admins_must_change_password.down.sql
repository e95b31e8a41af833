ALTER TABLE admins DROP COLUMN IF EXISTS must_change_password;
