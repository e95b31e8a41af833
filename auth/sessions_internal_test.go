package auth

import "testing"

func TestMaskIP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.77":               "203.0.113.0/24",
		"::ffff:203.0.113.77":        "203.0.113.0/24", // IPv4-mapped: masked as IPv4
		"2001:db8:1234:5678::9":      "2001:db8:1234::/48",
		"fe80::1%eth0":               "fe80::/48",
		"2001:db8:abcd:ffff:ffff::1": "2001:db8:abcd::/48",
		"not an address":             "",
	} {
		got := maskIP(&in)
		if (got == nil) != (want == "") || got != nil && *got != want {
			t.Errorf("maskIP(%q) = %v, want %q", in, got, want)
		}
	}
	if maskIP(nil) != nil {
		t.Error("maskIP(nil) is not nil")
	}
}
