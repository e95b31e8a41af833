package token

import (
	"bytes"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{User, Admin} {
		tok, hash := New(kind)
		if len(tok) != len(kind)+43 {
			t.Fatalf("token length %d", len(tok))
		}
		if got, ok := Parse(kind, tok); !ok || !bytes.Equal(got, hash) {
			t.Fatal("a fresh token does not parse to its hash")
		}
		for _, bad := range []string{"", "x", tok + "A", tok[:len(tok)-1] + "!", strings.Repeat("A", 10000)} {
			if _, ok := Parse(kind, bad); ok {
				t.Errorf("parsed %q", bad)
			}
		}
	}
	// One kind's token is never the other's.
	u, _ := New(User)
	a, _ := New(Admin)
	if _, ok := Parse(Admin, u); ok {
		t.Fatal("a user token parses as an admin token")
	}
	if _, ok := Parse(User, a); ok {
		t.Fatal("an admin token parses as a user token")
	}
}
