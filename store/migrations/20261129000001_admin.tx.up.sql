-- An operator of the admin API. Usernames are unique whatever their case, so
-- "Alice" cannot sit beside "alice" and be mistaken for her in the audit log.
-- password_hash is a PHC string ($argon2id$…) the store never interprets.
CREATE TABLE admins (
    id            uuid PRIMARY KEY,
    username      text NOT NULL CHECK (username <> ''),
    password_hash text NOT NULL CHECK (password_hash <> ''),
    role          text NOT NULL CHECK (role IN ('ADMIN', 'VIEWER')),
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

--bun:split

-- Its name is what CreateAdmin recognises a duplicate username by.
CREATE UNIQUE INDEX admins_username_lower_key ON admins (lower(username));

--bun:split

-- A signed-in admin. As for users, only the SHA-256 of the bearer token is
-- stored; admin sessions live apart from users' so that no user token can
-- ever be taken for an admin's.
CREATE TABLE admin_sessions (
    id           uuid PRIMARY KEY,
    token_hash   bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    admin_id     uuid NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    ip           inet,
    user_agent   text,
    CONSTRAINT admin_sessions_token_hash_key UNIQUE (token_hash)
);

--bun:split

-- Whole, not partial: revoking an admin's live sessions uses it, and so does
-- the ON DELETE CASCADE, which must find revoked sessions too.
CREATE INDEX admin_sessions_admin_id_idx ON admin_sessions (admin_id);

--bun:split

-- Brute-force counters: one row per key ('user:alice', 'ip:203.0.113.7')
-- counting attempts in the window that began at window_start.
CREATE TABLE login_attempts (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count >= 0)
);

--bun:split

-- Who did what, for admins to read. Rows are only ever inserted. detail holds
-- non-secret facts only: every admin, viewers included, may read it.
CREATE TABLE audit_log (
    id         uuid PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor_kind text NOT NULL,
    actor_id   uuid,
    actor_name text,
    action     text NOT NULL,
    target     text,
    ip         inet,
    detail     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object')
);

--bun:split

-- The log is read newest first, paged by (at, id): id breaks ties between
-- entries of one transaction, which share now(). Each filter's index ends in
-- the same order, so "the last 50 by this actor" reads 50 index entries
-- instead of sorting all of the actor's rows.
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);

--bun:split

CREATE INDEX audit_log_actor_id_idx ON audit_log (actor_id, at DESC, id DESC) WHERE actor_id IS NOT NULL;

--bun:split

CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC, id DESC);

--bun:split

CREATE INDEX audit_log_target_idx ON audit_log (target, at DESC, id DESC) WHERE target IS NOT NULL;
