package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// BenchmarkStore_UserData exports a user with 1,000 sessions and 10,000
// audit entries (issue 19: the export must stay bounded): the time of one
// export, and its size as myData sends it (bytes/export).
func BenchmarkStore_UserData(b *testing.B) {
	st := storetest.OpenFresh(b)
	ctx := context.Background()
	id, ident := store.NewID(), store.NewID()
	for _, q := range []string{
		`INSERT INTO users (id, nickname, city, phone, phone_country_code) VALUES (?0, '导出基准', 'Hangzhou', '+8613700137000', '86')`,
		`INSERT INTO identities (id, user_id, provider, appid, openid, unionid) VALUES (?1, ?0, 'wechat_miniprogram', 'wx2222222222222222', 'o-bench-' || ?0, 'u-bench-' || ?0)`,
		`INSERT INTO sessions (id, token_hash, user_id, identity_id, session_key_sealed, created_at, last_seen_at, expires_at, revoked_at, ip, user_agent)
		 SELECT gen_random_uuid(), sha256((?0 || n)::bytea), ?0, ?1, '\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
		        now() - n * interval '1 hour', now() - n * interval '1 hour', now() + interval '30 days',
		        CASE WHEN n % 2 = 0 THEN now() END, '203.0.113.7', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.50'
		 FROM generate_series(1, 1000) n`,
		`INSERT INTO consents (id, user_id, version, accepted_at, ip) VALUES (gen_random_uuid(), ?0, '2026-11', now(), '203.0.113.7')`,
		`INSERT INTO audit_log (id, at, actor_kind, actor_id, action, target, ip, detail)
		 SELECT gen_random_uuid(), now() - n * interval '1 minute', 'user', ?0, 'user.login', ?0::text, '203.0.113.7',
		        jsonb_build_object('appid', 'wx2222222222222222', 'session', gen_random_uuid())
		 FROM generate_series(1, 10000) n`,
	} {
		if _, err := st.DB().NewRaw(q, id, ident).Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var size int
	b.ResetTimer()
	for b.Loop() {
		d, err := st.UserData(ctx, id, 0)
		if err != nil {
			b.Fatal(err)
		}
		out, err := json.Marshal(d)
		if err != nil {
			b.Fatal(err)
		}
		if !d.Audit.Truncated || d.Sessions.Total != 1000 || d.Audit.Total != 10000 {
			b.Fatalf("audit %d (truncated %v), sessions %d", d.Audit.Total, d.Audit.Truncated, d.Sessions.Total)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size), "bytes/export")
}
