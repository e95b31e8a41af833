-- pgbench's side of the login comparison (scripts/bench.sh): the statements
-- store.Login runs for a returning user without a unionid, in one
-- transaction: upsert the identity, update (here: upsert) the user, insert
-- the session, write the audit row. Run with -M prepared; :nusers is set by
-- the script. The first pass over an openid creates its user and identity.
\set n random(1, :nusers)
BEGIN;
INSERT INTO identities (id, user_id, provider, appid, openid, unionid)
    VALUES (gen_random_uuid(), gen_random_uuid(), 'wechat_miniprogram', 'pgbench', 'pgbench-' || :n, NULL)
    ON CONFLICT (provider, appid, openid) DO UPDATE
    SET unionid = COALESCE(EXCLUDED.unionid, identities.unionid), updated_at = now(),
        last_login_at = CASE WHEN (SELECT disabled_at FROM users WHERE id = identities.user_id) IS NULL THEN now() ELSE identities.last_login_at END
    RETURNING id AS ident_id, user_id \gset
INSERT INTO users (id, last_login_at) VALUES (:user_id, now())
    ON CONFLICT (id) DO UPDATE SET last_login_at = now() WHERE users.disabled_at IS NULL
    RETURNING * \gset u_
INSERT INTO sessions (id, token_hash, user_id, identity_id, session_key_sealed, expires_at, ip, user_agent)
    VALUES (gen_random_uuid(), sha256(convert_to(gen_random_uuid()::text, 'UTF8')), :user_id, :ident_id, '\x00', now() + interval '30 days', '127.0.0.1', 'pgbench')
    RETURNING created_at, last_seen_at;
INSERT INTO audit_log (id, actor_kind, actor_id, action, target, ip, detail)
    VALUES (gen_random_uuid(), 'user', :user_id, 'user.login', :user_id, '127.0.0.1', jsonb_build_object('appid', 'pgbench', 'session', gen_random_uuid()))
    RETURNING at;
COMMIT;
