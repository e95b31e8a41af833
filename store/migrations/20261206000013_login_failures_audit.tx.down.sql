ALTER TABLE login_attempts DROP COLUMN audit_id;
