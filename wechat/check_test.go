package wechat_test

import (
	"errors"
	"strings"
	"testing"

	"wxlogin/wechat"
)

// assertMalformed checks that err is the client-safe malformed error with
// message want, that it does not match ErrDecrypt, and that it quotes none
// of inputs.
func assertMalformed(t *testing.T, err error, want string, inputs ...string) {
	t.Helper()
	var me *wechat.MalformedError
	if !errors.Is(err, wechat.ErrMalformed) || !errors.As(err, &me) {
		t.Fatalf("err = %v, want a *MalformedError", err)
	}
	if err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if !strings.HasPrefix(want, me.Field+" ") {
		t.Fatalf("Field = %q, but the message is %q", me.Field, want)
	}
	if errors.Is(err, wechat.ErrDecrypt) {
		t.Fatalf("err = %v matches ErrDecrypt; malformed input is the client's mistake", err)
	}
	for _, in := range inputs {
		if len(in) >= 3 && strings.Contains(err.Error(), in) {
			t.Fatalf("err = %q quotes the input %q", err, in)
		}
	}
}

const badCode = "code must be 1 to 64 characters of A-Z a-z 0-9 - . _ ~"

func TestCheckCode(t *testing.T) {
	for _, code := range []string{
		"0a3Xyzunknown0000000000000000000", // today's shape: 32 letters and digits
		"a",
		strings.Repeat("Z", 64),
		"a-b.c_d~e",
		"0123456789",
	} {
		if err := wechat.CheckCode(code); err != nil {
			t.Errorf("CheckCode(%q) = %v, want nil", code, err)
		}
	}
	for name, code := range map[string]string{
		"Empty":      "",
		"TooLong":    strings.Repeat("a", 65),
		"Huge":       strings.Repeat("a", 1<<20),
		"NonASCII":   "éééé",
		"NonASCIIIn": "abcé123",
		"NUL":        "abc\x00def",
		"Newline":    "abc\ndef",
		"Tab":        "\tabc",
		"DEL":        "abc\x7f",
		"Space":      "abc def",
		"Plus":       "abc+def",
		"Slash":      "abc/def",
		"Equals":     "abcdef==",
		"Percent":    "abc%41",
		"Quote":      `abc"def`,
	} {
		t.Run(name, func(t *testing.T) {
			assertMalformed(t, wechat.CheckCode(code), badCode, code)
		})
	}
}
