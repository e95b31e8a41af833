package store

import (
	"testing"
	"time"
)

// TestCursor_EncodeAsJSON: Encode's hand-written JSON is encoding/json's,
// byte for byte, for every shape of cursor; DecodeCursor accepts only
// that spelling, so a difference would refuse every cursor handed out.
func TestCursor_EncodeAsJSON(t *testing.T) {
	k := time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC)
	neg := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []Cursor{
		{Order: OrderCreatedAt, Key: &k, ID: "01a24de1-174b-7dd3-8dc7-f21db99ad734"},
		{Order: OrderCreatedAt, Desc: true, Key: &k, ID: "01a24de1-174b-7dd3-8dc7-f21db99ad734"},
		{Order: OrderLastLoginAt, Desc: true, ID: "01a24de1-174b-7dd3-8dc7-f21db99ad734"},
		{Order: OrderLastLoginAt, Key: &neg, ID: "x"},
		{Order: `odd"<order>`, Key: &k, ID: "a\u2028b"},
	} {
		if got, want := c.Encode(), c.encodeJSON(); got != want {
			t.Errorf("%+v: Encode %s, encoding/json %s", c, got, want)
		}
	}
}
