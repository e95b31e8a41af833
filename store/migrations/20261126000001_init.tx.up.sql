-- One person. Profile columns stay NULL until a mini program supplies them.
CREATE TABLE users (
    id                 uuid PRIMARY KEY,
    nickname           text,
    avatar_url         text,
    gender             smallint CHECK (gender IN (0, 1, 2)),
    language           text,
    city               text,
    province           text,
    country            text,
    phone              text,
    phone_country_code text,
    disabled_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    last_login_at      timestamptz
);

--bun:split

-- How a user signs in. The user FK is deferred so a first login can claim its
-- identity row (the serialization point for concurrent first logins) before
-- the user row it names exists.
CREATE TABLE identities (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    provider      text NOT NULL,
    appid         text NOT NULL,
    openid        text NOT NULL,
    unionid       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identities_provider_appid_openid_key UNIQUE (provider, appid, openid)
);

--bun:split

CREATE INDEX identities_unionid_idx ON identities (provider, unionid) WHERE unionid IS NOT NULL;

--bun:split

CREATE INDEX identities_user_id_idx ON identities (user_id);

--bun:split

-- A signed-in client. Only the SHA-256 of the bearer token is stored, and the
-- WeChat session_key only sealed (AES-GCM) under the server's SECRET_KEY.
CREATE TABLE sessions (
    id                 uuid PRIMARY KEY,
    token_hash         bytea NOT NULL CHECK (octet_length(token_hash) = 32),
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_id        uuid NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    session_key_sealed bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    ip                 inet,
    user_agent         text,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);

--bun:split

CREATE INDEX sessions_user_id_idx ON sessions (user_id) WHERE revoked_at IS NULL;

--bun:split

CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
