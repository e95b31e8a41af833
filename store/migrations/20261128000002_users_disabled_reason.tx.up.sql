-- Why an operator disabled a user, shown to admins only.
ALTER TABLE users ADD COLUMN disabled_reason text;
