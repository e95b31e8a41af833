package gqlhttp

import (
	"net/http/httptest"
	"testing"

	"wxlogin/token"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"":                 "",
		"Bearer abc":       "abc",
		"bearer abc":       "abc",
		"BEARER  abc ":     "abc",
		"Basic dXNlcjpwdw": token.Malformed,
		"Bearer":           "",
		"  ":               "",
		"abc":              token.Malformed,
	} {
		r := httptest.NewRequest("GET", "/graphql", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		if got := bearerToken(r); got != want {
			t.Errorf("%q: got %q, want %q", header, got, want)
		}
	}
}
