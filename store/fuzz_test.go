package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wxlogin/store"
	"wxlogin/store/storetest"
)

// Cursors come from clients, so their decoders see anything: they must
// never panic, a cursor they accept must be the one spelling Encode gives
// (one page, one cursor), and a query with an accepted cursor must run —
// bad input is ErrBadCursor, never a database error answered INTERNAL.
// `make test` runs the seeds; `go test -fuzz FuzzDecodeCursor ./store` explores.

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func FuzzDecodeCursor(f *testing.F) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	id := "0190a0c4-7c1e-7d3a-9b1e-3f2a1b0c9d8e"
	for _, c := range []store.Cursor{
		{Order: store.OrderCreatedAt, Key: &at, ID: id},
		{Order: store.OrderCreatedAt, Desc: true, Key: &at, ID: id},
		{Order: store.OrderLastLoginAt, ID: id},
		{Order: store.OrderLastLoginAt, Desc: true, Key: &at, ID: id},
	} {
		f.Add(c.Encode())
	}
	for _, s := range []string{
		"", "e30", "!!!", b64(`{"v":1,"o":"CREATED_AT","k":-9223372036854775808,"i":"` + id + `"}`),
		b64(`{"v":1,"o":"CREATED_AT","k":9223372036854775807,"i":"` + id + `"}`),
		b64(`{"v":1,"o":"CREATED_AT","k":253402300800000000,"i":"` + id + `"}`),
		b64(`{"v":1,"o":"LAST_LOGIN_AT","k":null,"i":"{` + id + `}"}`),
		b64(`{"v":1,"o":"CREATED_AT","k":1,"i":"urn:uuid:` + id + `"}`),
		b64(`{"v":1,"o":"CREATED_AT","d":false,"k":1,"i":"` + id + `"}`),
		b64(`{"V":1,"o":"CREATED_AT","k":1,"i":"` + id + `"}`),
		b64(` {"v":1,"o":"CREATED_AT","k":1,"i":"` + id + `"} `),
	} {
		f.Add(s)
	}
	st := storetest.Open(f)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, store.ErrBadCursor) || c != nil {
				t.Fatalf("DecodeCursor(%q) = %+v, %v; want nil, ErrBadCursor", s, c, err)
			}
			return
		}
		if again := c.Encode(); again != s {
			t.Fatalf("DecodeCursor(%q) accepted another spelling of %q", s, again)
		}
		for _, q := range []store.UserQuery{
			{First: 1, After: c, Order: c.Order, Desc: c.Desc},
			{First: 1, Before: c, Order: c.Order, Desc: c.Desc},
		} {
			if _, err := st.ListUsers(context.Background(), q); err != nil {
				t.Fatalf("ListUsers with the accepted cursor %q (%+v): %v", s, c, err)
			}
		}
	})
}

func FuzzDecodeAuditCursor(f *testing.F) {
	id := "0190a0c4-7c1e-7d3a-9b1e-3f2a1b0c9d8e"
	f.Add(store.AuditCursor{At: time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC), ID: id}.Encode())
	f.Add(store.AuditCursor{At: time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("CST", 8*3600)), ID: id}.Encode())
	for _, s := range []string{
		"", "e30", b64(`{"v":1,"at":"2024-05-06T07:08:09Z","id":"` + id + `","x":1}`),
		b64(`{"V":1,"AT":"2024-05-06T07:08:09Z","ID":"` + id + `"}`),
		b64(`{"v":1,"at":"2024-05-06T07:08:09Z","id":"urn:uuid:` + id + `"}`),
		b64(`{"v":1,"at":"2024-05-06T07:08:09Z","id":"{` + id + `}"}`),
		b64(`{"v":1,"at":"0001-01-01T00:00:01Z","id":"` + id + `"}`),
		b64(`{"v":1,"at":"0000-01-01T00:00:01+01:00","id":"` + id + `"}`),
		b64(`{"v":1,"at":"2024-05-06T07:08:09+23:00","id":"` + id + `"}`),
		b64(`{"v":1,"at":"9999-12-31T23:59:59.999999999+14:00","id":"` + id + `"}`),
		b64(`{"v":1,"at":"2024-05-06T07:08:09Z","id":"` + id + `"}{}`),
	} {
		f.Add(s)
	}
	st := storetest.Open(f)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.DecodeAuditCursor(s)
		if err != nil {
			if !errors.Is(err, store.ErrBadCursor) || c != nil {
				t.Fatalf("DecodeAuditCursor(%q) = %+v, %v; want nil, ErrBadCursor", s, c, err)
			}
			return
		}
		// Cursors keep the zone offset the time was read with, and decoding
		// turns it to UTC: the same instant may be spelled with any offset,
		// but nothing else may vary, and the UTC spelling is a fixed point.
		if c.At.Location() != time.UTC {
			t.Fatalf("DecodeAuditCursor(%q) left the time in %v", s, c.At.Location())
		}
		again, err := store.DecodeAuditCursor(c.Encode())
		if err != nil || *again != *c {
			t.Fatalf("DecodeAuditCursor(%q) = %+v, whose encoding decodes to %+v, %v", s, c, again, err)
		}
		if orig, _ := base64.RawURLEncoding.DecodeString(s); strings.Contains(string(orig), `Z"`) && c.Encode() != s {
			t.Fatalf("DecodeAuditCursor(%q) accepted another spelling of %q", s, c.Encode())
		}
		if _, err := uuid.Parse(c.ID); err != nil {
			t.Fatalf("accepted id %q: %v", c.ID, err)
		}
		for _, q := range []store.AuditQuery{{First: 1, After: c}, {First: 1, Before: c}} {
			if _, err := st.ListAudit(context.Background(), q); err != nil {
				t.Fatalf("ListAudit with the accepted cursor %q (%+v): %v", s, c, err)
			}
		}
	})
}
