package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// Data exports take turns: one waiting past its bound for another is
// ErrBusy, and gets its turn once the other is done.
func TestStore_UserData_TakeTurns(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	id := store.NewID()
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO users (id) VALUES (?)`, id); err != nil {
		t.Fatal(err)
	}
	release := st.HoldExport(50 * time.Millisecond)
	if _, err := st.UserData(ctx, id, 0); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("an export while another runs = %v, want ErrBusy", err)
	}
	release()
	if d, err := st.UserData(ctx, id, 0); err != nil || d.User.ID != id {
		t.Fatalf("the next export = %+v, %v", d, err)
	}
}
