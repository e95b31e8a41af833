package store_test

import (
	"context"
	"testing"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// A Serial pool's queries get no parallel workers; others keep the server's
// setting.
func TestOpen_Serial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, serial := range []bool{true, false} {
		st, err := store.Open(ctx, storetest.DSN(t), store.Options{MaxConns: 1, Serial: serial})
		if err != nil {
			t.Fatal(err)
		}
		var workers string
		err = st.DB().QueryRowContext(ctx, "SHOW max_parallel_workers_per_gather").Scan(&workers)
		_ = st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if (workers == "0") != serial {
			t.Errorf("Serial %v: max_parallel_workers_per_gather = %s", serial, workers)
		}
	}
}
