package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// EachUserPage walks the whole listing in pages of batch, in ListUsers'
// order, ties and NULL last logins included, each user once, up to limit.
func TestStore_EachUserPage(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	w := newWindow()
	seedUsers(t, st, w, 11, 0)
	for _, order := range []store.UserOrder{store.OrderCreatedAt, store.OrderLastLoginAt} {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/desc=%v", order, desc), func(t *testing.T) {
				q := w.query(100)
				q.Order, q.Desc = order, desc
				p, err := st.ListUsers(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want := ids(p.Items)
				for _, c := range []struct{ limit, batch int }{{100, 3}, {100, 11}, {100, 1}, {7, 3}, {6, 3}} {
					var got []string
					var sizes []int
					err := st.EachUserPage(ctx, q, c.limit, c.batch, func(users []*models.User) error {
						got = append(got, ids(users)...)
						sizes = append(sizes, len(users))
						return nil
					})
					n := min(c.limit, len(want))
					if err != nil || !slices.Equal(got, want[:n]) {
						t.Fatalf("limit %d batch %d: %v %v, want %v", c.limit, c.batch, got, err, want[:n])
					}
					if slices.Max(sizes) > c.batch {
						t.Fatalf("limit %d batch %d: pages of %v", c.limit, c.batch, sizes)
					}
				}
			})
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := st.EachUserPage(ctx, w.query(100), 100, 2, func([]*models.User) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("fn's error: %v after %d calls", err, calls)
	}
}
