package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// newSession makes a session row to log in with; its token is random.
func newSession() *models.Session {
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	h := sha256.Sum256(tok)
	return &models.Session{
		ID: store.NewID(), TokenHash: h[:], SessionKeySealed: []byte("sealed"),
		ExpiresAt: time.Now().Add(time.Hour),
	}
}

// uniqueOpenID keeps tests sharing the package database apart.
func uniqueOpenID(t *testing.T) string { return "o" + store.NewID() }

func mustLogin(t *testing.T, st *store.Store, p store.LoginParams) *store.LoginResult {
	t.Helper()
	if p.Provider == "" {
		p.Provider = models.ProviderWechatMiniProgram
	}
	if p.AppID == "" {
		p.AppID = "wxapp1"
	}
	if p.Session == nil {
		p.Session = newSession()
	}
	res, err := st.Login(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func count(t *testing.T, st *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStore_Migrate(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	names, err := st.Migrate(context.Background())
	if err != nil || len(names) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", names, err)
	}
}

func TestStore_Login(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()

	t.Run("FirstThenAgain", func(t *testing.T) {
		openid := uniqueOpenID(t)
		first := mustLogin(t, st, store.LoginParams{OpenID: openid})
		if !first.Created || first.User.ID == "" || first.User.LastLoginAt == nil || first.Identity.UserID != first.User.ID {
			t.Fatalf("first login = %+v", first)
		}
		again := mustLogin(t, st, store.LoginParams{OpenID: openid})
		if again.Created || again.User.ID != first.User.ID || again.Identity.ID != first.Identity.ID {
			t.Fatalf("second login = %+v, want user %s not created", again, first.User.ID)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ?", first.User.ID); n != 2 {
			t.Fatalf("sessions = %d, want 2", n)
		}
	})

	t.Run("SameOpenIDOtherApp", func(t *testing.T) {
		openid := uniqueOpenID(t)
		a := mustLogin(t, st, store.LoginParams{AppID: "wxappA", OpenID: openid})
		b := mustLogin(t, st, store.LoginParams{AppID: "wxappB", OpenID: openid})
		if a.User.ID == b.User.ID {
			t.Fatal("an openid of another app (no unionid) joined the same user")
		}
	})

	t.Run("Profile", func(t *testing.T) {
		openid := uniqueOpenID(t)
		p := &models.Profile{Nickname: "Band", Gender: models.GenderMale, City: "Guangzhou", Country: "CN", Language: "zh_CN"}
		res := mustLogin(t, st, store.LoginParams{OpenID: openid, Profile: p})
		u := res.User
		if *u.Nickname != "Band" || *u.Gender != models.GenderMale || *u.City != "Guangzhou" || u.AvatarURL != nil {
			t.Fatalf("user = %+v", u)
		}
		p2 := &models.Profile{Nickname: "Band2", Gender: models.GenderFemale}
		res = mustLogin(t, st, store.LoginParams{OpenID: openid, Profile: p2})
		if *res.User.Nickname != "Band2" || *res.User.Gender != models.GenderFemale || res.User.City != nil {
			t.Fatalf("updated user = %+v", res.User)
		}
		res = mustLogin(t, st, store.LoginParams{OpenID: openid})
		if res.User.Nickname == nil || *res.User.Nickname != "Band2" {
			t.Fatal("a login without profile erased the profile")
		}
	})

	t.Run("UnionIDJoinsApps", func(t *testing.T) {
		union := "u" + store.NewID()
		a := mustLogin(t, st, store.LoginParams{AppID: "wxappA", OpenID: uniqueOpenID(t), UnionID: union})
		b := mustLogin(t, st, store.LoginParams{AppID: "wxappB", OpenID: uniqueOpenID(t), UnionID: union})
		if !a.Created || b.Created || a.User.ID != b.User.ID || a.Identity.ID == b.Identity.ID {
			t.Fatalf("a = %+v, b = %+v: want one user with two identities", a, b)
		}
	})

	t.Run("UnionIDArrivesLater", func(t *testing.T) {
		openid := uniqueOpenID(t)
		first := mustLogin(t, st, store.LoginParams{OpenID: openid})
		union := "u" + store.NewID()
		second := mustLogin(t, st, store.LoginParams{OpenID: openid, UnionID: union})
		if second.Identity.UnionID == nil || *second.Identity.UnionID != union || second.User.ID != first.User.ID {
			t.Fatalf("identity = %+v", second.Identity)
		}
		third := mustLogin(t, st, store.LoginParams{OpenID: openid})
		if third.Identity.UnionID == nil || *third.Identity.UnionID != union {
			t.Fatal("a login without unionid erased the known one")
		}
	})

	t.Run("DisabledUser", func(t *testing.T) {
		openid := uniqueOpenID(t)
		res := mustLogin(t, st, store.LoginParams{OpenID: openid})
		if _, err := st.DB().ExecContext(ctx, "UPDATE users SET disabled_at = now() WHERE id = ?", res.User.ID); err != nil {
			t.Fatal(err)
		}
		_, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxapp1", OpenID: openid, Session: newSession()})
		if !errors.Is(err, store.ErrUserDisabled) {
			t.Fatalf("err = %v, want ErrUserDisabled", err)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ?", res.User.ID); n != 1 {
			t.Fatalf("sessions = %d, want 1: the refused login must record nothing", n)
		}
	})

	t.Run("FailedSessionInsertLeavesNothing", func(t *testing.T) {
		openid := uniqueOpenID(t)
		bad := newSession()
		bad.TokenHash = []byte("too short") // violates the CHECK constraint
		_, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: "wxapp1", OpenID: openid, Session: bad})
		if err == nil {
			t.Fatal("want an error")
		}
		if n := count(t, st, "SELECT count(*) FROM identities WHERE openid = ?", openid); n != 0 {
			t.Fatalf("identities = %d, want 0", n)
		}
		if n := count(t, st, "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)"); n != 0 {
			t.Fatalf("orphan users = %d, want 0", n)
		}
	})
}

// A thousand concurrent first logins of one openid make one user and one
// identity, and every one of them gets its session.
func TestStore_Login_ConcurrentFirstLogin(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	openid := uniqueOpenID(t)
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	created := make(chan bool, n)
	for range n {
		wg.Go(func() {
			res, err := st.Login(context.Background(), store.LoginParams{
				Provider: models.ProviderWechatMiniProgram, AppID: "wxconcurrent", OpenID: openid, Session: newSession(),
			})
			if err != nil {
				errs <- err
				return
			}
			created <- res.Created
		})
	}
	wg.Wait()
	close(errs)
	close(created)
	for err := range errs {
		t.Fatal(err)
	}
	nCreated := 0
	for c := range created {
		if c {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d logins report creating the user, want 1", nCreated)
	}
	if got := count(t, st, "SELECT count(*) FROM identities WHERE appid = 'wxconcurrent' AND openid = ?", openid); got != 1 {
		t.Fatalf("identities = %d, want 1", got)
	}
	if got := count(t, st, "SELECT count(DISTINCT u.id) FROM users u JOIN identities i ON i.user_id = u.id WHERE i.openid = ?", openid); got != 1 {
		t.Fatalf("users = %d, want 1", got)
	}
	if got := count(t, st, "SELECT count(*) FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE i.openid = ?", openid); got != n {
		t.Fatalf("sessions = %d, want %d", got, n)
	}
	if got := count(t, st, "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)"); got != 0 {
		t.Fatalf("orphan users = %d, want 0", got)
	}
}

// First logins of one person from two apps at once make one user.
func TestStore_Login_ConcurrentUnionID(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	union := "u" + store.NewID()
	openids := map[string]string{"wxunionA": uniqueOpenID(t), "wxunionB": uniqueOpenID(t)}
	var wg sync.WaitGroup
	for range 50 {
		for app, openid := range openids {
			wg.Go(func() {
				if _, err := st.Login(context.Background(), store.LoginParams{
					Provider: models.ProviderWechatMiniProgram, AppID: app, OpenID: openid, UnionID: union, Session: newSession(),
				}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if n := count(t, st, "SELECT count(DISTINCT user_id) FROM identities WHERE unionid = ?", union); n != 1 {
		t.Fatalf("users for one unionid = %d, want 1", n)
	}
	if n := count(t, st, "SELECT count(*) FROM identities WHERE unionid = ?", union); n != 2 {
		t.Fatalf("identities = %d, want 2", n)
	}
	// One user from the start: two made at once and merged later would
	// also end as one, but the unionid's lock must keep them from forming.
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.merge' AND target = (SELECT user_id::text FROM identities WHERE unionid = ? LIMIT 1)", union); n != 0 {
		t.Fatalf("%d merges: concurrent first logins made several users", n)
	}
}

func TestStore_SessionByTokenHash(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		sess := newSession()
		res := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		got, user, err := st.SessionByTokenHash(ctx, sess.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != sess.ID || user.ID != res.User.ID || got.IdentityID != res.Identity.ID {
			t.Fatalf("session = %+v, user = %+v", got, user)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		if _, _, err := st.SessionByTokenHash(ctx, make([]byte, 32)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Expired", func(t *testing.T) {
		sess := newSession()
		sess.ExpiresAt = time.Now().Add(-time.Second)
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		if _, _, err := st.SessionByTokenHash(ctx, sess.TokenHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Revoked", func(t *testing.T) {
		sess := newSession()
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		if _, err := st.RevokeSession(ctx, sess.ID, "", nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.SessionByTokenHash(ctx, sess.TokenHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if _, err := st.RevokeSession(ctx, sess.ID, "", nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revoke err = %v, want ErrNotFound", err)
		}
	})

	t.Run("DisabledUser", func(t *testing.T) {
		sess := newSession()
		res := mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		if _, err := st.DB().ExecContext(ctx, "UPDATE users SET disabled_at = now() WHERE id = ?", res.User.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.SessionByTokenHash(ctx, sess.TokenHash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Touch", func(t *testing.T) {
		sess := newSession()
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		if _, err := st.DB().ExecContext(ctx, "UPDATE sessions SET last_seen_at = now() - interval '1 hour' WHERE id = ?", sess.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.TouchSession(ctx, sess.ID, time.Minute); err != nil {
			t.Fatal(err)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions WHERE id = ? AND last_seen_at > now() - interval '1 minute'", sess.ID); n != 1 {
			t.Fatal("last_seen_at not updated")
		}
	})
}

func TestOpen_RefusesUnverifiedTLS(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://u@db.example.com:5432/x",
		"postgres://u@db.example.com:5432/x?sslmode=require",
		"postgres://u@10.0.0.5:5432/x?sslmode=prefer",
	} {
		if _, err := store.Open(context.Background(), dsn, store.Options{}); err == nil {
			t.Errorf("%s: opened; want a refusal", dsn)
		}
	}
}

// benchParallelism gives the parallel benchmarks 8 goroutines per CPU, the
// concurrency of a busy server rather than one request per core.
const benchParallelism = 8

// BenchmarkStore_Login is a returning user's login transaction (identity
// upsert, user update, session insert), spread over 1000 users.
func BenchmarkStore_Login(b *testing.B) {
	st := storetest.Open(b)
	openids := make([]string, 1000)
	for i := range openids {
		openids[i] = "o" + store.NewID()
		if _, err := st.Login(context.Background(), store.LoginParams{
			Provider: models.ProviderWechatMiniProgram, AppID: "wxbench", OpenID: openids[i], Session: newSession(),
		}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			openid := openids[next.Add(1)%int64(len(openids))]
			if _, err := st.Login(context.Background(), store.LoginParams{
				Provider: models.ProviderWechatMiniProgram, AppID: "wxbench", OpenID: openid, Session: newSession(),
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStore_FirstLogin creates a new user on every login.
func BenchmarkStore_FirstLogin(b *testing.B) {
	st := storetest.Open(b)
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.Login(context.Background(), store.LoginParams{
				Provider: models.ProviderWechatMiniProgram, AppID: "wxbench", OpenID: "o" + store.NewID(), Session: newSession(),
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStore_SessionByTokenHash is the lookup behind every authenticated request.
func BenchmarkStore_SessionByTokenHash(b *testing.B) {
	st := storetest.Open(b)
	sess := newSession()
	if _, err := st.Login(context.Background(), store.LoginParams{
		Provider: models.ProviderWechatMiniProgram, AppID: "wxbench", OpenID: "o" + store.NewID(), Session: sess,
	}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(benchParallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := st.SessionByTokenHash(context.Background(), sess.TokenHash); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestOpen_LoopbackWithoutSSLMode(t *testing.T) {
	t.Parallel()
	// pgdriver would insist on TLS and fail on a server without it; on
	// loopback an unset sslmode means disable.
	dsn := strings.Replace(storetest.DSN(t), "sslmode=disable", "", 1)
	st, err := store.Open(context.Background(), dsn, store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
}

// Instances starting together all migrate; the advisory lock makes them take turns.
func TestStore_MigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn, _ := storetest.FreshDatabase(t) // empty: the test migrates it itself
	ctx := context.Background()
	var wg sync.WaitGroup
	applied := make(chan int, 4)
	for range 4 {
		wg.Go(func() {
			st, err := store.Open(ctx, dsn, store.Options{MaxConns: 2})
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			names, err := st.Migrate(ctx)
			if err != nil {
				t.Error(err)
			}
			applied <- len(names)
		})
	}
	wg.Wait()
	close(applied)
	appliers := 0
	for n := range applied {
		if n > 0 {
			appliers++
		}
	}
	if appliers != 1 {
		t.Fatalf("%d instances applied migrations, want exactly 1", appliers)
	}
}
