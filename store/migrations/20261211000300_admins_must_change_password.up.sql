-- A password another admin set or generated from the admin page is known
-- to them: its owner must choose their own before doing anything else
-- (admin.Service.Require refuses with PASSWORD_CHANGE_REQUIRED until
-- changeMyPassword). A constant default: no table rewrite.
ALTER TABLE admins ADD COLUMN IF NOT EXISTS must_change_password boolean NOT NULL DEFAULT false;
