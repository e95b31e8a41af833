DROP TABLE admin_recovery_codes;

--bun:split

ALTER TABLE admins
    DROP CONSTRAINT admins_totp_enabled_has_secret,
    DROP COLUMN totp_last_step,
    DROP COLUMN totp_enabled_at,
    DROP COLUMN totp_secret_sealed;
