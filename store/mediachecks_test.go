package store_test

import (
	"context"
	"testing"
	"time"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// TestStore_PurgeMediaChecks: rows older than the retention go, newer
// ones stay.
func TestStore_PurgeMediaChecks(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()
	old, recent := "purge-old-"+store.NewID(), "purge-new-"+store.NewID()
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO media_checks (trace_id, app_id, created_at) VALUES (?, 'wxpurge', now() - interval '8 days'), (?, 'wxpurge', now())`, old, recent); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PurgeMediaChecks(ctx, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := count(t, st, `SELECT count(*) FROM media_checks WHERE trace_id IN (?, ?)`, old, recent); n != 1 {
		t.Fatalf("%d of the two rows left, want 1", n)
	}
	if n := count(t, st, `SELECT count(*) FROM media_checks WHERE trace_id = ?`, recent); n != 1 {
		t.Fatal("the recent row was purged")
	}
}
