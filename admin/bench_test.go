package admin_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"wxlogin/admin"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// benchUsers is the size the admin queries are measured at.
const benchUsers = 1_000_000

// BenchmarkAdmin_1M measures the admin API's queries at a million users
// (seeded by COPY into the package's database on first use, about half a
// minute), reporting p50 and p95 besides the mean.
func BenchmarkAdmin_1M(b *testing.B) {
	st := storetest.Open(b)
	ctx := context.Background()
	n, err := st.CountUsers(ctx, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	if n < benchUsers {
		start := time.Now()
		if err := st.Seed(ctx, benchUsers-n, "wxbench"); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded %d users in %v", benchUsers-n, time.Since(start))
	}
	svc := admin.NewService(st, admin.Config{})
	var deep struct {
		CreatedAt time.Time `bun:"created_at"`
		ID        string    `bun:"id"`
	}
	if err := st.DB().NewRaw("SELECT created_at, id FROM users ORDER BY created_at DESC, id DESC OFFSET 899999 LIMIT 1").Scan(ctx, &deep); err != nil {
		b.Fatal(err)
	}
	deepCursor := store.Cursor{Order: store.OrderCreatedAt, Desc: true, Key: &deep.CreatedAt, ID: deep.ID}.Encode()
	first, notDisabled, since := 20, false, time.Now().Add(-365*24*time.Hour)
	for _, bc := range []struct {
		name string
		run  func() error
	}{
		{"FirstPage", func() error { _, err := svc.Users(ctx, admin.UsersInput{First: &first, Desc: true}); return err }},
		{"Page900k", func() error {
			_, err := svc.Users(ctx, admin.UsersInput{First: &first, After: &deepCursor, Desc: true})
			return err
		}},
		{"Filtered", func() error {
			_, err := svc.Users(ctx, admin.UsersInput{First: &first, Disabled: &notDisabled, CreatedAfter: &since, Order: "LAST_LOGIN_AT", Desc: true})
			return err
		}},
		{"Search", func() error {
			_, err := svc.Users(ctx, admin.UsersInput{First: &first, Search: "小明123", Desc: true})
			return err
		}},
		{"SearchOpenID", func() error {
			_, err := svc.Users(ctx, admin.UsersInput{First: &first, Search: "never-an-openid-4242", Desc: true})
			return err
		}},
		{"Stats", func() error {
			if _, err := svc.TotalUsers(ctx); err != nil {
				return err
			}
			if _, err := svc.NewUsers(ctx, 30); err != nil {
				return err
			}
			if _, err := svc.ActiveUsers(ctx, 30); err != nil {
				return err
			}
			_, err := svc.LoginsPerDay(ctx, 30)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := bc.run(); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
