package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"wxlogin/models"
	"wxlogin/store"
)

// dumpLogin describes what a login recorded, without the ids and
// timestamps that differ between two logins (but with which of them are
// equal).
func dumpLogin(t *testing.T, st *store.Store, res *store.LoginResult, sess *models.Session) string {
	t.Helper()
	var s string
	err := st.DB().QueryRowContext(context.Background(), `SELECT json_build_object(
	 'ident', (SELECT to_jsonb(i) - 'id' - 'user_id' - 'openid' - 'unionid' - 'created_at' - 'updated_at' - 'last_login_at' || jsonb_build_object('ca=ua=la', i.created_at = i.updated_at AND i.updated_at = i.last_login_at, 'ca=tx', i.created_at = s.created_at) FROM identities i WHERE i.id = s.identity_id),
	 'user', (SELECT to_jsonb(u) - 'id' - 'created_at' - 'updated_at' - 'last_login_at' || jsonb_build_object('lla=tx', u.last_login_at = s.created_at, 'ca=tx', u.created_at = s.created_at, 'ua=tx', u.updated_at = s.created_at) FROM users u WHERE u.id = s.user_id),
	 'sess', to_jsonb(s) - 'id' - 'token_hash' - 'user_id' - 'identity_id' - 'created_at' - 'last_seen_at' - 'expires_at' || jsonb_build_object('ls=ca', s.last_seen_at = s.created_at),
	 'audit', (SELECT json_agg(jsonb_build_object('action', a.action, 'actor', a.actor_id = s.user_id, 'target', a.target = s.user_id::text, 'ip', a.ip, 'detail', a.detail - 'session', 'dsess', a.detail->>'session' = s.id::text, 'at', a.at = s.created_at, 'name', a.actor_name, 'kind', a.actor_kind) ORDER BY a.id) FROM audit_log a WHERE a.detail->>'session' = s.id::text)
	)::text FROM sessions s WHERE s.id = ?`, sess.ID).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := json.Marshal(map[string]any{"created": res.Created, "merged": res.MergedFrom, "userRes=db": res.User.ID == sess.UserID, "identRes": res.Identity.ID == sess.IdentityID})
	return s + string(r)
}

// TestStore_OneStatementLoginsMatchTheTransaction: a first login through
// firstLoginSQL records what the general transaction records for the same
// login — identity, user, session, audit rows, result — without a unionid,
// with a new one, and with one another app's user holds.
func TestStore_OneStatementLoginsMatchTheTransaction(t *testing.T) {
	ctx := context.Background()
	st := open(t, store.Options{MaxConns: 2})
	ip := "10.1.2.3"
	ua := "ua"
	for _, withUnion := range []bool{false, true} {
		for _, linked := range []bool{false, true} {
			if linked && !withUnion {
				continue
			}
			var outs []string
			for _, general := range []bool{false, true} {
				union := ""
				if withUnion {
					union = "u" + store.NewID()
				}
				if linked {
					mustLogin(t, st, store.LoginParams{AppID: "wxappA", OpenID: uniqueOpenID(t), UnionID: union})
				}
				sess := newSession()
				sess.IP, sess.UserAgent = &ip, &ua
				p := store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxappB", OpenID: uniqueOpenID(t), UnionID: union, Session: sess}
				var res *store.LoginResult
				var err error
				if general {
					res, err = st.LoginRetry(ctx, p)
				} else {
					res, err = st.Login(ctx, p)
				}
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, dumpLogin(t, st, res, sess))
			}
			if outs[0] != outs[1] {
				t.Errorf("union=%v linked=%v\nfast    %s\ngeneral %s", withUnion, linked, outs[0], outs[1])
			}
		}
	}
}
