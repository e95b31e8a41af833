package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

func TestStore_SessionKeySealed(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()

	t.Run("NotOnTheHotPath", func(t *testing.T) {
		sess := newSession()
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: sess})
		got, _, err := st.SessionByTokenHash(ctx, sess.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.SessionKeySealed != nil {
			t.Fatal("SessionByTokenHash read session_key_sealed")
		}
		sealed, err := st.SessionKeySealed(ctx, got.ID)
		if err != nil || !bytes.Equal(sealed, sess.SessionKeySealed) {
			t.Fatalf("SessionKeySealed = %q, %v; want %q", sealed, err, sess.SessionKeySealed)
		}
	})

	t.Run("NotActive", func(t *testing.T) {
		expired := newSession()
		expired.ExpiresAt = time.Now().Add(-time.Second)
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: expired})
		revoked := newSession()
		mustLogin(t, st, store.LoginParams{OpenID: uniqueOpenID(t), Session: revoked})
		if err := st.RevokeSession(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}
		for name, id := range map[string]string{"expired": expired.ID, "revoked": revoked.ID, "unknown": store.NewID()} {
			if _, err := st.SessionKeySealed(ctx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", name, err)
			}
		}
	})
}
