-- Two-step sign-in for admins (TOTP, RFC 6238). The secret lives on the
-- admin's row, sealed under SECRET_KEY as session_keys are (bound to the
-- admin's id, so it opens on no other row; `wxlogin rekey` re-seals it).
-- totp_secret_sealed without totp_enabled_at is an enrolment begun and not
-- yet confirmed with a code: it signs nobody in. totp_last_step is the
-- RFC 6238 time step (unix seconds / 30) of the last code accepted, so a
-- code is never accepted twice, nor one older than it.
ALTER TABLE admins
    ADD COLUMN totp_secret_sealed bytea,
    ADD COLUMN totp_enabled_at    timestamptz,
    ADD COLUMN totp_last_step     bigint,
    ADD CONSTRAINT admins_totp_enabled_has_secret CHECK (totp_enabled_at IS NULL OR totp_secret_sealed IS NOT NULL);

--bun:split

-- One-time recovery codes, each usable once in place of a TOTP code: only
-- their SHA-256 (over the admin's id and the code) is kept. They go with
-- TOTP: turning it off or a reset deletes them.
CREATE TABLE admin_recovery_codes (
    admin_id  uuid NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    used_at   timestamptz,
    PRIMARY KEY (admin_id, code_hash)
);
