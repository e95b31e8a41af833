package app

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSessionCache_LocalChangesAtOnce: with the cache on, a change made
// through this instance is seen by this instance's very next request —
// the NOTIFY that tells the other instances arrives a few milliseconds
// later, and the cache must not answer from the old entry meanwhile.
func TestSessionCache_LocalChangesAtOnce(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.SessionCacheTTL, c.SessionCacheSize = 30*time.Second, 1000 })
	adm, _ := ts.adminLogin(t, "cache-admin", mustAdmin(t, "cache-admin", "admin"))
	for i := range 20 {
		p := mustLogin(t, ts, map[string]any{"code": ts.code(t, fmt.Sprintf("cache-local-%d", i))})
		me := func() *gqlResponse { return ts.do(t, p.Token, `{ me { id nickname } }`, nil) }
		me() // now cached
		nick := fmt.Sprintf("Nick %d", i)
		if r := ts.do(t, p.Token, `mutation($n: String) { updateProfile(input: {nickname: $n}) { id } }`, map[string]any{"n": nick}); len(r.Errors) > 0 {
			t.Fatal(r.raw)
		}
		if r := me(); !strings.Contains(r.raw, nick) {
			t.Fatalf("round %d: me right after updateProfile = %s", i, r.raw)
		}
		switch i % 2 {
		case 0:
			r := ts.do(t, adm, `mutation($id: ID!) { disableUser(id: $id, reason: "cache test") { id } }`, map[string]any{"id": p.User.ID})
			if len(r.Errors) > 0 {
				t.Fatal(r.raw)
			}
		default:
			r := ts.do(t, adm, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": p.User.ID})
			if len(r.Errors) > 0 {
				t.Fatal(r.raw)
			}
		}
		if r := me(); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("round %d: me right after the admin's change = %s", i, r.raw)
		}
	}
}
