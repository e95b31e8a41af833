package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// Two pools stand for two instances: 40 concurrent renewals of one app's
// token run fn one at a time, and only the first finds the token due —
// both when the row is new (the insert serializes them) and when it exists
// with an expired token (only the row lock does).
func TestStore_RenewAccessTokenSerializes(t *testing.T) {
	t.Parallel()
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("RowExists=%v", existing), func(t *testing.T) {
			testRenewSerializes(t, existing)
		})
	}
}

func testRenewSerializes(t *testing.T, existing bool) {
	a, b := storetest.Open(t), storetest.Open(t)
	ctx := context.Background()
	appID := "wx_renew_" + store.NewID()

	if row, err := a.AccessToken(ctx, appID); err != nil || row.AppID != appID || row.TokenSealed != nil || !row.ExpiresAt.IsZero() {
		t.Fatalf("no token yet: %+v %v", row, err)
	}
	if existing {
		if _, err := a.RenewAccessToken(ctx, appID, func(store.AccessTokenRow) (store.AccessTokenRow, error) {
			return store.AccessTokenRow{TokenSealed: []byte("old"), ExpiresAt: time.Now().Add(-time.Minute)}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var fetched, inside, overlap atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			_, err := st.RenewAccessToken(ctx, appID, func(cur store.AccessTokenRow) (store.AccessTokenRow, error) {
				if inside.Add(1) > 1 {
					overlap.Add(1)
				}
				defer inside.Add(-1)
				if time.Now().Before(cur.ExpiresAt) {
					return cur, nil // another instance renewed meanwhile: reuse
				}
				fetched.Add(1)
				time.Sleep(50 * time.Millisecond) // a WeChat round trip
				return store.AccessTokenRow{TokenSealed: []byte("sealed"), ExpiresAt: time.Now().Add(2 * time.Hour)}, nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if fetched.Load() != 1 || overlap.Load() != 0 {
		t.Fatalf("%d fetches, %d overlapping fn runs; want 1 and 0", fetched.Load(), overlap.Load())
	}
	row, err := b.AccessToken(ctx, appID)
	if err != nil || !bytes.Equal(row.TokenSealed, []byte("sealed")) || time.Until(row.ExpiresAt) < time.Hour || row.UpdatedAt.IsZero() {
		t.Fatalf("stored %+v %v", row, err)
	}
}

func TestStore_RenewAccessTokenFailureStoresNothing(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	appID := "wx_fail_" + store.NewID()
	forced := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	if _, err := st.RenewAccessToken(ctx, appID, func(store.AccessTokenRow) (store.AccessTokenRow, error) {
		return store.AccessTokenRow{TokenSealed: []byte("one"), ExpiresAt: time.Now().Add(time.Hour), ForcedAt: forced}, nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("wechat down")
	_, err := st.RenewAccessToken(ctx, appID, func(cur store.AccessTokenRow) (store.AccessTokenRow, error) {
		return store.AccessTokenRow{TokenSealed: []byte("two")}, boom
	})
	if err != boom {
		t.Fatalf("err = %v, want fn's error unchanged", err)
	}
	row, err := st.AccessToken(ctx, appID)
	if err != nil || string(row.TokenSealed) != "one" || !row.ForcedAt.Equal(forced) {
		t.Fatalf("after a failed renewal: %+v %v", row, err)
	}
}

// A renewal waiting for the lock gives up at its context's deadline with an
// error that says so, which the wechat client reports as WeChat being slow.
func TestStore_RenewAccessTokenWaitEndsAtDeadline(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	appID := "wx_wait_" + store.NewID()
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = st.RenewAccessToken(ctx, appID, func(cur store.AccessTokenRow) (store.AccessTokenRow, error) {
			close(held)
			<-release
			return cur, nil
		})
	}()
	<-held
	defer close(release)
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := st.RenewAccessToken(wctx, appID, func(cur store.AccessTokenRow) (store.AccessTokenRow, error) {
		t.Error("fn ran while another renewal held the lock")
		return cur, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: %v, want a deadline error", time.Since(start), err)
	}
}
