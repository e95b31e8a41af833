package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// parkFirst holds the first statement holding match it sees in
// BeforeQuery — before the store looks its prepared statement up — until
// release is closed.
type parkFirst struct {
	match   string
	once    sync.Once
	parked  chan struct{}
	release chan struct{}
}

// firstLoginMark is in firstLoginSQL only; reloginMark in reloginSQL only.
const (
	firstLoginMark = "chosen AS"
	reloginMark    = "found AS"
)

func (h *parkFirst) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if strings.Contains(e.Query, h.match) {
		h.once.Do(func() { close(h.parked); <-h.release })
	}
	return ctx
}
func (h *parkFirst) AfterQuery(context.Context, *bun.QueryEvent) {}

// loginOutcome is how a login ended and how long it took.
type loginOutcome struct {
	err error
	d   time.Duration
}

// loginAsync logs in with p (app wxapp1 and a new session unless given)
// in a goroutine, with 5 s to do it.
func loginAsync(st *store.Store, p store.LoginParams) chan loginOutcome {
	p.Provider = models.ProviderWechatMiniProgram
	if p.AppID == "" {
		p.AppID = "wxapp1"
	}
	p.Session = newSession()
	ch := make(chan loginOutcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t0 := time.Now()
		_, err := st.Login(ctx, p)
		ch <- loginOutcome{err, time.Since(t0)}
	}()
	return ch
}

// TestStore_ForgetStatementsDuringFirstLogins: dropping the prepared
// statements (what a 0A000 or 26000 does) while first logins hold the
// unionid's lock and their connections stalls nobody. It did when
// forgetting held a lock while closing statements, which waits for every
// connection running them: T1 (holding U's lock) waited for that lock, the
// closing waited for T2's connection, and T2 waited for U's lock.
func TestStore_ForgetStatementsDuringFirstLogins(t *testing.T) {
	ctx := context.Background()
	admin := storetest.Open(t)
	st, err := store.Open(ctx, storetest.DSN(t), store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t)}) // both statements prepared
	h := &parkFirst{match: firstLoginMark, parked: make(chan struct{}), release: make(chan struct{})}
	st.AddQueryHook(h)

	union := "u" + store.NewID()
	login := func(app string) chan loginOutcome {
		return loginAsync(st, store.LoginParams{AppID: app, OpenID: uniqueOpenID(t), UnionID: union})
	}
	t1 := login("wxappA")
	<-h.parked // T1 holds U's lock and its connection
	t2 := login("wxappB")
	for count(t, admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	forgot := make(chan time.Duration, 1)
	go func() { t0 := time.Now(); st.ForgetStatements(); forgot <- time.Since(t0) }()
	time.Sleep(200 * time.Millisecond)
	close(h.release)
	r1, r2 := <-t1, <-t2
	t.Logf("T1 err=%v (%v); T2 err=%v (%v); forgetStatement took %v", r1.err, r1.d, r2.err, r2.d, <-forgot)
	if r1.err != nil || r2.err != nil {
		t.Fatal("deadlocked until the contexts ended")
	}
}

// TestStore_PrepareWhileATransactionHoldsTheConnection: a login preparing
// a statement afresh, waiting for the pool's only connection, does not
// keep the first login that holds it from looking its statement up. It
// did when preparing held the lock the lookup takes.
func TestStore_PrepareWhileATransactionHoldsTheConnection(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.DSN(t), store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := uniqueOpenID(t)
	mustLogin(t, st, store.LoginParams{OpenID: old})
	h := &parkFirst{match: firstLoginMark, parked: make(chan struct{}), release: make(chan struct{})}
	st.AddQueryHook(h)
	login := func(openid string) chan loginOutcome {
		return loginAsync(st, store.LoginParams{OpenID: openid})
	}
	t1 := login(uniqueOpenID(t))
	<-h.parked
	st.ForgetStatements() // as fallsBack does on 0A000/26000
	t2 := login(old)
	time.Sleep(200 * time.Millisecond)
	close(h.release)
	r1, r2 := <-t1, <-t2
	t.Logf("T1 err=%v (%v); T2 err=%v (%v)", r1.err, r1.d, r2.err, r2.d)
	if r1.err != nil || r2.err != nil || r1.d > 2*time.Second {
		t.Fatal("stalled until a context ended")
	}
}

// TestStore_ForgetStatementsWhileOneRuns: a login holding a prepared
// statement that is dropped (what a 0A000 or 26000 does) before it runs
// it still logs in. It failed ("sql: statement is closed") when a dropped
// statement was closed at once.
func TestStore_ForgetStatementsWhileOneRuns(t *testing.T) {
	st := open(t, store.Options{MaxConns: 2})
	openid := uniqueOpenID(t)
	mustLogin(t, st, store.LoginParams{OpenID: openid})
	mustLogin(t, st, store.LoginParams{OpenID: openid}) // reloginSQL prepared
	h := &parkFirst{match: reloginMark, parked: make(chan struct{}), release: make(chan struct{})}
	store.SetAfterLookup(func(query string) {
		if strings.Contains(query, h.match) {
			h.once.Do(func() { close(h.parked); <-h.release })
		}
	})
	defer store.SetAfterLookup(nil)
	done := loginAsync(st, store.LoginParams{OpenID: openid})
	<-h.parked // it holds the statement
	st.ForgetStatements()
	time.Sleep(50 * time.Millisecond)
	close(h.release)
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
}
