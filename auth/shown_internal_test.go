package auth

import (
	"strings"
	"testing"
)

// A profile that comes with a login meets updateProfile's text rules: what
// would be refused there is dropped here, the rest kept (cleaned).
func TestShown_AsUpdateProfileWould(t *testing.T) {
	for in, want := range map[string]string{
		"小明":                                     "小明",
		"  Band ":                                "Band",
		"ad\u200dmin":                            "",
		"a" + strings.Repeat("\u0489", 30):       "",
		"\u034f":                                 "",
		"\u17b4\u17b5":                           "",
		"👨\u200d👩\u200d👧":                        "👨\u200d👩\u200d👧",
		"Guang\u202ezhou":                        "Guangzhou", // bidi overrides are stripped, as before
		"a" + strings.Repeat("\u0300\u20dd", 15): "",
	} {
		if got := shown(in); got != want {
			t.Errorf("shown(%q) = %q, want %q", in, got, want)
		}
	}
}
