package app

import (
	"io"
	"strings"
	"testing"

	"wxlogin/graph"
)

func TestParseConfig_QueryLimits(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{"DATABASE_URL": "postgres://localhost/x", "DEV_WECHAT": "1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return envOf(m)
	}

	c, err := parseConfig("t", nil, env(), io.Discard)
	if err != nil || c.QueryLimits != graph.DefaultLimits {
		t.Fatalf("defaults: %+v, %v", c.QueryLimits, err)
	}

	c, err = parseConfig("t", []string{"-query-max-depth", "9", "-query-max-tokens", "5000"},
		env("QUERY_MAX_DEPTH", "3", "QUERY_MAX_COMPLEXITY", "4000", "QUERY_MAX_ALIASES", "5",
			"QUERY_MAX_FIELDS", "100", "QUERY_MAX_DIRECTIVES", "7"), io.Discard)
	want := graph.DefaultLimits
	want.MaxDepth, want.MaxTokens, want.MaxComplexity, want.MaxAliases, want.MaxFields, want.MaxDirectives = 9, 5000, 4000, 5, 100, 7
	if err != nil || c.QueryLimits != want {
		t.Fatalf("given: %+v, %v", c.QueryLimits, err)
	}

	for _, bad := range [][2]string{
		{"QUERY_MAX_DEPTH", "0"}, {"QUERY_MAX_DEPTH", "101"}, {"QUERY_MAX_COMPLEXITY", "-1"}, {"QUERY_MAX_COMPLEXITY", "1e6"},
		{"QUERY_MAX_ALIASES", "many"}, {"QUERY_MAX_FIELDS", "1001"}, {"QUERY_MAX_TOKENS", "20001"}, {"QUERY_MAX_DIRECTIVES", "0"},
	} {
		_, err := parseConfig("t", nil, env(bad[0], bad[1]), io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), bad[0]+" must be a number from 1 to ") {
			t.Errorf("%s=%s: %v", bad[0], bad[1], err)
		}
	}
}

// TestServer_QueryLimitsConfigured: a QUERY_MAX_DEPTH below the default
// refuses, on the running server, a query the default lets run.
func TestServer_QueryLimitsConfigured(t *testing.T) {
	t.Parallel()
	const q = `{ users(first: 1) { edges { node { identities { appId } } } } }` // 5 deep
	if got := startServer(t, nil).do(t, "", q, nil); got.code() != "UNAUTHENTICATED" {
		t.Fatalf("default limits: %s", got.raw)
	}
	c, err := parseConfig("t", nil, envOf(map[string]string{"DATABASE_URL": "x", "DEV_WECHAT": "1", "QUERY_MAX_DEPTH": "4"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(cfg *Config) { cfg.QueryLimits = c.QueryLimits })
	if got := ts.do(t, "", q, nil); got.code() != "QUERY_TOO_COMPLEX" || !strings.Contains(got.raw, "nests 5 levels deep; at most 4") {
		t.Fatalf("QUERY_MAX_DEPTH=4: %s", got.raw)
	}
}
