package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// tokenSession is a session to log in with and the hash its token is found by.
func tokenSession() (*models.Session, []byte) {
	tok := make([]byte, 32)
	_, _ = rand.Read(tok)
	h := sha256.Sum256(tok)
	return &models.Session{ID: store.NewID(), TokenHash: h[:], SessionKeySealed: []byte("sealed"), ExpiresAt: time.Now().Add(time.Hour)}, h[:]
}

// splitPerson is one person with an identity in each of two apps, logged in
// while neither app reported a unionid: two users, a the older.
type splitPerson struct {
	union          string
	openA, openB   string
	userA, userB   string
	hashA, hashB   []byte
	appA, appB     string
	identA, identB string
	lastLoginB     time.Time
}

func newSplitPerson(t *testing.T, st *store.Store, profileA, profileB *models.Profile) *splitPerson {
	t.Helper()
	p := &splitPerson{union: "u" + store.NewID(), openA: uniqueOpenID(t), openB: uniqueOpenID(t), appA: "wxmergeA", appB: "wxmergeB"}
	sa, ha := tokenSession()
	a := mustLogin(t, st, store.LoginParams{AppID: p.appA, OpenID: p.openA, Profile: profileA, Session: sa})
	sb, hb := tokenSession()
	b := mustLogin(t, st, store.LoginParams{AppID: p.appB, OpenID: p.openB, Profile: profileB, Session: sb})
	if a.User.ID == b.User.ID {
		t.Fatal("two apps without unionid made one user")
	}
	p.userA, p.userB, p.hashA, p.hashB = a.User.ID, b.User.ID, ha, hb
	p.identA, p.identB = a.Identity.ID, b.Identity.ID
	p.lastLoginB = *b.User.LastLoginAt
	return p
}

func (p *splitPerson) login(t *testing.T, st *store.Store, app string, withUnion bool) *store.LoginResult {
	t.Helper()
	openid := p.openA
	if app == p.appB {
		openid = p.openB
	}
	union := ""
	if withUnion {
		union = p.union
	}
	return mustLogin(t, st, store.LoginParams{AppID: app, OpenID: openid, UnionID: union})
}

// The merge rule: when a unionid arrives for a known identity and another
// user already holds it, the newer user is merged into the older one.
func TestStore_Login_MergesUsersLinkedByUnionID(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()

	t.Run("NewerIntoOlder", func(t *testing.T) {
		p := newSplitPerson(t, st,
			&models.Profile{Nickname: "Old", City: "Guangzhou", Gender: models.GenderUnknown},
			&models.Profile{Nickname: "New", Country: "CN", Gender: models.GenderFemale, Language: "zh_CN"})
		if _, err := st.DB().ExecContext(ctx, "UPDATE users SET phone = '+8613800138002', phone_country_code = '86' WHERE id = ?", p.userB); err != nil {
			t.Fatal(err)
		}
		// App A starts sending the unionid: nobody else holds it yet.
		first := p.login(t, st, p.appA, true)
		if first.User.ID != p.userA || len(first.MergedFrom) != 0 || first.Identity.UnionID == nil || *first.Identity.UnionID != p.union {
			t.Fatalf("first login with unionid = %+v", first)
		}
		// App B sends it too: user B is user A's person.
		res := p.login(t, st, p.appB, true)
		if res.Created || res.User.ID != p.userA || !slices.Equal(res.MergedFrom, []string{p.userB}) || res.Identity.ID != p.identB {
			t.Fatalf("merging login = %+v, MergedFrom %v; want user %s from %s", res, res.MergedFrom, p.userA, p.userB)
		}
		assertMerged(t, st, p)
		u := res.User
		if *u.Nickname != "Old" || *u.City != "Guangzhou" || u.Country == nil || *u.Country != "CN" || *u.Language != "zh_CN" ||
			*u.Gender != models.GenderFemale || u.Phone == nil || *u.Phone != "+8613800138002" || *u.PhoneCountryCode != "86" {
			t.Fatalf("merged profile = %+v: want the survivor's values, the other's where the survivor's are empty", u)
		}
		if u.DisabledAt != nil {
			t.Fatal("merged user disabled")
		}
		if !u.LastLoginAt.After(p.lastLoginB) {
			t.Fatalf("last_login_at %v, want the latest", u.LastLoginAt)
		}
		e := mergeAudit(t, st, p.userA)
		detail := e.Detail
		if *e.ActorID != p.userA || e.ActorKind != "user" || detail["from"] != p.userB || detail["into"] != p.userA || detail["appid"] != p.appB || detail["identitiesMoved"] != float64(1) || detail["sessionsMoved"] != float64(1) {
			t.Fatalf("audit detail = %v", detail)
		}
		// Logging in again changes nothing more.
		again := p.login(t, st, p.appA, true)
		if again.User.ID != p.userA || len(again.MergedFrom) != 0 {
			t.Fatalf("later login = %+v", again)
		}
		if n := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.merge' AND target = ?", p.userA); n != 1 {
			t.Fatalf("merge audit rows = %d, want 1", n)
		}
	})

	t.Run("OlderSurvivesWhicheverAppRevealsIt", func(t *testing.T) {
		p := newSplitPerson(t, st, nil, nil)
		if res := p.login(t, st, p.appB, true); res.User.ID != p.userB || len(res.MergedFrom) != 0 {
			t.Fatalf("first = %+v", res)
		}
		res := p.login(t, st, p.appA, true)
		if res.User.ID != p.userA || !slices.Equal(res.MergedFrom, []string{p.userB}) {
			t.Fatalf("merging login = %+v (%v), want the older user %s", res.User, res.MergedFrom, p.userA)
		}
		assertMerged(t, st, p)
	})

	t.Run("SplitUsersFromBeforeMerging", func(t *testing.T) {
		// Three users already sharing a unionid (as an older version could
		// leave them): the next login carrying it makes them one.
		union := "u" + store.NewID()
		var users []string
		for _, app := range []string{"wx3A", "wx3B", "wx3C"} {
			res := mustLogin(t, st, store.LoginParams{AppID: app, OpenID: uniqueOpenID(t)})
			users = append(users, res.User.ID)
			if _, err := st.DB().ExecContext(ctx, "UPDATE identities SET unionid = ? WHERE id = ?", union, res.Identity.ID); err != nil {
				t.Fatal(err)
			}
		}
		res := mustLogin(t, st, store.LoginParams{AppID: "wx3D", OpenID: uniqueOpenID(t), UnionID: union})
		if res.Created || res.User.ID != users[0] || !slices.Equal(res.MergedFrom, users[1:]) {
			t.Fatalf("login = %+v (merged %v), want users %v merged into the first", res.User, res.MergedFrom, users)
		}
		if n := count(t, st, "SELECT count(DISTINCT user_id) FROM identities WHERE unionid = ?", union); n != 1 {
			t.Fatalf("users holding the unionid = %d", n)
		}
		if n := count(t, st, "SELECT count(*) FROM users WHERE id IN (?, ?)", users[1], users[2]); n != 0 {
			t.Fatalf("%d merged users left", n)
		}
	})

	t.Run("DisabledSurvivor", func(t *testing.T) {
		// The older user is disabled: the person stays disabled. The merge
		// is kept, the login refused, the other user's live sessions end.
		p := newSplitPerson(t, st, nil, nil)
		if _, err := st.SetUserDisabled(ctx, p.userA, true, "fraud", "", nil); err != nil {
			t.Fatal(err)
		}
		identLogin := func() (at time.Time) {
			t.Helper()
			if err := st.DB().NewRaw("SELECT last_login_at FROM identities WHERE id = ?", p.identA).Scan(ctx, &at); err != nil {
				t.Fatal(err)
			}
			return at
		}
		before := identLogin()
		if _, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: p.appA, OpenID: p.openA, UnionID: p.union, Session: newSession()}); !errors.Is(err, store.ErrUserDisabled) {
			t.Fatalf("err = %v", err)
		}
		// The refused login committed its unionid, but is no login.
		if after := identLogin(); !after.Equal(before) {
			t.Fatalf("a refused login moved the identity's last login from %v to %v", before, after)
		}
		_, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: p.appB, OpenID: p.openB, UnionID: p.union, Session: newSession()})
		if !errors.Is(err, store.ErrUserDisabled) {
			t.Fatalf("merging login: err = %v, want ErrUserDisabled", err)
		}
		assertMergedDisabled(t, st, p, "fraud")
	})

	t.Run("DisabledMergedAway", func(t *testing.T) {
		p := newSplitPerson(t, st, nil, nil)
		ops := newAdmin(t, st, "merge-ops", models.RoleAdmin)
		if _, err := st.SetUserDisabled(ctx, p.userB, true, "spam", ops.ID, nil); err != nil {
			t.Fatal(err)
		}
		p.login(t, st, p.appA, true) // user A is fine so far
		_, err := st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: p.appA, OpenID: p.openA, Session: newSession()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.Login(ctx, store.LoginParams{Provider: models.ProviderWechatMiniProgram, AppID: p.appB, OpenID: p.openB, UnionID: p.union, Session: newSession()})
		if !errors.Is(err, store.ErrUserDisabled) {
			t.Fatalf("merging login: err = %v, want ErrUserDisabled", err)
		}
		assertMergedDisabled(t, st, p, "spam")
		// Who disabled the merged-away user comes with why.
		if by, err := st.DisabledByOf(ctx, []string{p.userA}); err != nil || by[p.userA] == nil || by[p.userA].ID != ops.ID {
			t.Fatalf("the survivor disabled by %v (%v), want %s", by, err, ops.Username)
		}
		if detail := mergeAudit(t, st, p.userA).Detail; detail["fromDisabled"] != true || detail["sessionsRevoked"] != float64(3) {
			t.Fatalf("audit detail = %v: want fromDisabled and user A's 3 live sessions revoked", detail)
		}
	})
}

// mergeAudit returns the one user.merge entry targeting the user into.
func mergeAudit(t *testing.T, st *store.Store, into string) *models.AuditEntry {
	t.Helper()
	var es []*models.AuditEntry
	if err := st.DB().NewSelect().Model(&es).Where("action = 'user.merge' AND target = ?", into).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("%d user.merge audit entries for %s, want 1", len(es), into)
	}
	return es[0]
}

// assertMerged checks that p's two users are one: user A with both
// identities and every session, user B gone, B's token finding user A.
func assertMerged(t *testing.T, st *store.Store, p *splitPerson) {
	t.Helper()
	if n := count(t, st, "SELECT count(*) FROM users WHERE id = ?", p.userB); n != 0 {
		t.Fatal("the merged-away user is still there")
	}
	if n := count(t, st, "SELECT count(*) FROM identities WHERE user_id = ? AND id IN (?, ?)", p.userA, p.identA, p.identB); n != 2 {
		t.Fatalf("survivor holds %d of the 2 identities", n)
	}
	if n := count(t, st, "SELECT count(*) FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE i.id IN (?, ?) AND s.user_id <> ?", p.identA, p.identB, p.userA); n != 0 {
		t.Fatalf("%d sessions left on another user", n)
	}
	for _, h := range [][]byte{p.hashA, p.hashB} {
		_, u, err := st.SessionByTokenHash(context.Background(), h)
		if err != nil || u.ID != p.userA {
			t.Fatalf("token from before the merge: user %v, err %v; want %s", u, err, p.userA)
		}
	}
}

func assertMergedDisabled(t *testing.T, st *store.Store, p *splitPerson, reason string) {
	t.Helper()
	u, err := st.UserByID(context.Background(), p.userA)
	if err != nil {
		t.Fatal(err)
	}
	if u.DisabledAt == nil || u.DisabledReason == nil || *u.DisabledReason != reason {
		t.Fatalf("merged user = %+v, want disabled (%s)", u, reason)
	}
	if n := count(t, st, "SELECT count(*) FROM users WHERE id = ?", p.userB); n != 0 {
		t.Fatal("the merge was rolled back with the refused login")
	}
	if n := count(t, st, "SELECT count(*) FROM identities WHERE user_id = ? AND id IN (?, ?)", p.userA, p.identA, p.identB); n != 2 {
		t.Fatalf("survivor holds %d of the 2 identities", n)
	}
	if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", p.userA); n != 0 {
		t.Fatalf("%d live sessions on a disabled user", n)
	}
	if n := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.merge' AND target = ?", p.userA); n != 1 {
		t.Fatalf("merge audit rows = %d, want 1", n)
	}
}

// Logins of one split person through both apps at once, with and without
// the unionid, end as one user holding both identities and every session:
// the merge happens once, no login fails or deadlocks, none is lost.
func TestStore_Login_ConcurrentMerge(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	const rounds, perKind = 10, 10
	start := time.Now()
	for range rounds {
		p := newSplitPerson(t, st, nil, nil)
		var wg sync.WaitGroup
		results := make(chan *store.LoginResult, 4*perKind)
		for i := range 4 * perKind {
			app := []string{p.appA, p.appB}[i%2]
			openid := map[string]string{p.appA: p.openA, p.appB: p.openB}[app]
			union := ""
			if i%4 < 2 {
				union = p.union
			}
			wg.Go(func() {
				res, err := st.Login(context.Background(), store.LoginParams{
					Provider: models.ProviderWechatMiniProgram, AppID: app, OpenID: openid, UnionID: union, Session: newSession(),
				})
				if err != nil {
					t.Error(err)
					return
				}
				results <- res
			})
		}
		wg.Wait()
		close(results)
		merges := 0
		for res := range results {
			merges += len(res.MergedFrom)
		}
		if merges != 1 {
			t.Fatalf("%d merges reported, want 1", merges)
		}
		if n := count(t, st, "SELECT count(DISTINCT user_id) FROM identities WHERE id IN (?, ?)", p.identA, p.identB); n != 1 {
			t.Fatalf("identities on %d users, want 1", n)
		}
		if n := count(t, st, "SELECT count(*) FROM sessions WHERE user_id = ?", p.userA); n != 2+4*perKind {
			t.Fatalf("survivor has %d sessions, want %d", n, 2+4*perKind)
		}
		if n := count(t, st, "SELECT count(*) FROM audit_log WHERE action = 'user.merge' AND target = ?", p.userA); n != 1 {
			t.Fatalf("merge audit rows = %d, want 1", n)
		}
		assertMerged(t, st, p)
	}
	t.Logf("%d rounds of %d concurrent logins: %v", rounds, 4*perKind, time.Since(start))
}

// The two logins that reveal the link, one per app, at once: with nothing
// after them to notice, they alone must leave one user. (Without the
// advisory lock each can miss the other's uncommitted unionid.)
func TestStore_Login_ConcurrentRevealingPair(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	const rounds = 40
	for range rounds {
		p := newSplitPerson(t, st, nil, nil)
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for app, openid := range map[string]string{p.appA: p.openA, p.appB: p.openB} {
			wg.Go(func() {
				<-ready
				if _, err := st.Login(context.Background(), store.LoginParams{
					Provider: models.ProviderWechatMiniProgram, AppID: app, OpenID: openid, UnionID: p.union, Session: newSession(),
				}); err != nil {
					t.Error(err)
				}
			})
		}
		close(ready)
		wg.Wait()
		if n := count(t, st, "SELECT count(DISTINCT user_id) FROM identities WHERE id IN (?, ?)", p.identA, p.identB); n != 1 {
			t.Fatalf("identities on %d users after the revealing pair, want 1", n)
		}
		assertMerged(t, st, p)
	}
}

// TestStore_MergeCoversEveryUserColumn fails when the schema grows a column
// on users or a table keyed by user: mergeUsers (store/merge.go) must then
// say how a merge combines or moves it, and this list learn it.
func TestStore_MergeCoversEveryUserColumn(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	var cols []string
	if err := st.DB().NewSelect().TableExpr("information_schema.columns").Column("column_name").
		Where("table_schema = current_schema() AND table_name = 'users'").Order("column_name").Scan(ctx, &cols); err != nil {
		t.Fatal(err)
	}
	handled := []string{"avatar_url", "city", "country", "created_at", "deleted_at", "deletion_requested_at", "disabled_at", "disabled_by",
		"disabled_reason", "erase_at", "gender", "id", "language", "last_login_at", "nickname", "phone", "phone_country_code",
		"province", "updated_at"}
	if !slices.Equal(cols, handled) {
		t.Errorf("users has columns %v; mergeUsers handles %v: teach it the new ones", cols, handled)
	}
	var refs []string
	if err := st.DB().NewRaw(`SELECT conrelid::regclass::text || '.' || a.attname
		FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
		WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass ORDER BY 1`).Scan(ctx, &refs); err != nil {
		t.Fatal(err)
	}
	if want := []string{"consents.user_id", "identities.user_id", "media_checks.user_id", "sessions.user_id", "user_moderation.user_id"}; !slices.Equal(refs, want) {
		t.Errorf("foreign keys to users: %v; mergeUsers moves %v: teach it the new ones", refs, want)
	}
}
