package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
	"wxlogin/store/storetest"
	"wxlogin/wechat/wechattest"
)

// TestRotation_TwoInstances rotates SECRET_KEY from k1 to k2 under two
// instances on one database, as docs/operations.md's "Rotating SECRET_KEY" says, and
// nobody is logged out: a session made under k1 keeps its session_key
// (a legacy phone bind decrypts with it) and the shared access token
// keeps opening, on every instance, before and after rekey, and after
// SECRET_KEY_PREVIOUS is dropped.
func TestRotation_TwoInstances(t *testing.T) {
	t.Parallel()
	// A database of its own: rekey walks whole tables.
	dsn, _ := storetest.FreshDatabase(t)
	sim, appID, wxURL := phoneSim(t)
	key := func() []byte {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		return k
	}
	k1, k2 := key(), key()
	keys := func(current []byte, previous ...[]byte) func(*app.Config) {
		return func(c *app.Config) {
			c.DatabaseURL, c.SecretKey, c.PreviousSecretKeys = dsn, current, previous
		}
	}
	phones := map[string]string{"rot-alice": "13900000001", "rot-bob": "13900000002"}
	for user, phone := range phones {
		if err := sim.SetPhone(user, "86", phone); err != nil {
			t.Fatal(err)
		}
	}
	// works checks that user's session on ts is whole: me answers, the
	// session_key opens (the legacy encryptedData bind decrypts with it),
	// and so does the access token (the phone-code bind uses it).
	works := func(ts *apptest.Server, user, token string) {
		t.Helper()
		if me := ts.Do(t, token, `{ me { id } }`, nil); len(me.Errors) > 0 {
			t.Fatalf("%s: me = %s", user, me.Raw)
		}
		od, err := sim.PhoneData("", user)
		if err != nil {
			t.Fatal(err)
		}
		if got, resp := bind(ts, t, token, map[string]any{"encryptedData": od.EncryptedData, "iv": od.IV}); got != "+86"+phones[user] {
			t.Fatalf("%s: legacy bind (session_key): %s", user, resp.Raw)
		}
		if got, resp := bind(ts, t, token, map[string]any{"code": phoneCode(ts, t, user)}); got != "+86"+phones[user] {
			t.Fatalf("%s: code bind (access token): %s", user, resp.Raw)
		}
	}
	tokenCalls := func(want int) {
		t.Helper()
		if c := sim.Calls(wechattest.PathStableToken); c != want {
			t.Fatalf("%d stable_token calls, want %d: an instance could not open the stored access token", c, want)
		}
	}

	// Before: A seals everything under k1.
	a := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(keys(k1)))
	alice := a.MustLogin(t, map[string]any{"code": a.Code(t, "rot-alice")}).Token
	works(a, "rot-alice", alice)
	tokenCalls(1)

	// Step 1 of a rolling rotation: instances learn k2 before any seals
	// with it. Step 2: B seals under k2 and still opens k1.
	a1 := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(keys(k1, k2)))
	b := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(keys(k2, k1)))
	works(b, "rot-alice", alice)
	tokenCalls(1)
	bob := b.MustLogin(t, map[string]any{"code": b.Code(t, "rot-bob")}).Token
	works(b, "rot-bob", bob)
	works(a1, "rot-bob", bob) // what B sealed under k2 opens on a step-1 instance
	works(a1, "rot-alice", alice)
	// Without step 1, an instance still on k1 alone cannot open it.
	od, _ := sim.PhoneData("", "rot-bob")
	if _, resp := bind(a, t, bob, map[string]any{"encryptedData": od.EncryptedData, "iv": od.IV}); resp.Code() != "INTERNAL" {
		t.Fatalf("k1 alone opened a session_key sealed under k2: %s", resp.Raw)
	}
	tokenCalls(1)
	apptest.WaitFor(t, "B's start-up count", 10*time.Second, func() bool {
		return strings.Contains(b.Logs.String(), "sealed values still under an old SECRET_KEY or format")
	})
	if logs := b.Logs.String(); !strings.Contains(logs, "sessions=1 access_tokens=1") {
		t.Fatalf("B's start-up count, want alice's session and the token under k1:\n%s", logs)
	}

	// Step 3: rekey, while A, A1 and B serve.
	env := apptest.Env(map[string]string{"DATABASE_URL": dsn, "SECRET_KEY": hex.EncodeToString(k2), "SECRET_KEY_PREVIOUS": hex.EncodeToString(k1)})
	var out bytes.Buffer
	if err := app.Run(context.Background(), []string{"rekey", "-batch", "1"}, env, nil, &out, &out); err != nil {
		t.Fatalf("rekey: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"sessions: 1 of 1 done: 1 re-sealed, 0 changed meanwhile (left as written), 0 open under no key",
		"access tokens: 1 of 1 done: 1 re-sealed",
		"SECRET_KEY_PREVIOUS can be dropped",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("rekey said, without %q:\n%s", want, out.String())
		}
	}
	for _, k := range [][]byte{k1, k2} {
		if strings.Contains(out.String(), hex.EncodeToString(k)) {
			t.Fatalf("rekey printed a key:\n%s", out.String())
		}
	}
	out.Reset()
	if err := app.Run(context.Background(), []string{"rekey", "-dry-run"}, env, nil, &out, &out); err != nil ||
		!strings.Contains(out.String(), "sessions: 0 under an old key") || !strings.Contains(out.String(), "access tokens: 0 under an old key") {
		t.Fatalf("rekey -dry-run after rekey: %v\n%s", err, out.String())
	}

	// Step 4: k2 alone serves everyone.
	c := apptest.Start(t, apptest.WithSimulator(sim, appID, wxURL), apptest.WithConfig(keys(k2)))
	works(c, "rot-alice", alice)
	works(c, "rot-bob", bob)
	tokenCalls(1)
	apptest.WaitFor(t, "C's start-up count", 10*time.Second, func() bool {
		return strings.Contains(c.Logs.String(), "every sealed value is under the current SECRET_KEY")
	})
}
