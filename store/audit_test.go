package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

func TestStore_WriteAudit(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t)
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		actor, target := store.NewID(), "user:"+store.NewID()
		e := &models.AuditEntry{ActorKind: "admin", ActorID: &actor, ActorName: new("alice"), Action: "user.disable",
			Target: &target, IP: new("2001:db8::7"),
			Detail: map[string]any{"reason": "spam", "sessionsRevoked": 3, "flags": []any{"a", true}, "nested": map[string]any{"x": nil}}}
		if err := st.WriteAudit(ctx, st.DB(), e); err != nil {
			t.Fatal(err)
		}
		id, err := uuid.Parse(e.ID)
		if err != nil || id.Version() != 7 || e.At.IsZero() {
			t.Fatalf("id %q (version %d, %v), at %v: want a UUIDv7 and a time", e.ID, id.Version(), err, e.At)
		}
		got := &models.AuditEntry{ID: e.ID}
		if err := st.DB().NewSelect().Model(got).WherePK().Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if !got.At.Equal(e.At) || got.ActorKind != "admin" || *got.ActorID != actor || *got.ActorName != "alice" ||
			got.Action != "user.disable" || *got.Target != target || *got.IP != "2001:db8::7" {
			t.Fatalf("read back %+v", got)
		}
		// JSON numbers come back as float64.
		want := map[string]any{"reason": "spam", "sessionsRevoked": float64(3), "flags": []any{"a", true}, "nested": map[string]any{"x": nil}}
		if !reflect.DeepEqual(got.Detail, want) {
			t.Fatalf("detail %#v, want %#v", got.Detail, want)
		}
	})

	t.Run("NilDetailIsAnEmptyObject", func(t *testing.T) {
		e := &models.AuditEntry{ActorKind: "system", Action: "user.create"}
		if err := st.WriteAudit(ctx, st.DB(), e); err != nil {
			t.Fatal(err)
		}
		if n := count(t, st, "SELECT count(*) FROM audit_log WHERE id = ? AND detail = '{}' AND actor_id IS NULL AND ip IS NULL", e.ID); n != 1 {
			t.Fatal("a nil detail was not stored as {}")
		}
	})

	t.Run("InTheCallersTransaction", func(t *testing.T) {
		e := &models.AuditEntry{ActorKind: "system", Action: "user.create"}
		rollback := errors.New("roll back")
		err := st.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := st.WriteAudit(ctx, tx, e); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if n := count(t, st, "SELECT count(*) FROM audit_log WHERE id = ?", e.ID); n != 0 {
			t.Fatal("the entry outlived its rolled-back transaction")
		}
	})

	t.Run("BadIP", func(t *testing.T) {
		e := &models.AuditEntry{ActorKind: "anonymous", Action: "admin.login_failed", IP: new("999.1.1.1")}
		if err := st.WriteAudit(ctx, st.DB(), e); err == nil {
			t.Fatal("an invalid ip was stored")
		}
	})
}

func TestDecodeAuditCursor_Refusals(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	good := store.AuditCursor{At: time.Now().UTC().Truncate(time.Microsecond), ID: id}.Encode()
	if c, err := store.DecodeAuditCursor(good); err != nil || c.ID != id {
		t.Fatalf("a real cursor: %+v, %v", c, err)
	}
	for name, s := range map[string]string{
		"Garbage":   "!!",
		"Year0":     b64(`{"v":1,"at":"0000-01-01T00:00:00Z","id":"` + id + `"}`),
		"ZeroTime":  b64(`{"v":1,"at":"0001-01-01T00:00:00Z","id":"` + id + `"}`),
		"BadID":     b64(`{"v":1,"at":"2026-01-01T00:00:00Z","id":"x"}`),
		"OtherV":    b64(`{"v":2,"at":"2026-01-01T00:00:00Z","id":"` + id + `"}`),
		"TooLong":   strings.Repeat("A", 1000),
		"NotObject": b64(`[]`),
	} {
		if _, err := store.DecodeAuditCursor(s); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: %v, want ErrBadCursor", name, err)
		}
	}
}
