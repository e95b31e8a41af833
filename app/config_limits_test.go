package app_test

import (
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
)

// TestServer_QueryLimitsConfigured: a QUERY_MAX_DEPTH below the default
// refuses, on the running server, a query the default lets run.
func TestServer_QueryLimitsConfigured(t *testing.T) {
	t.Parallel()
	const q = `{ users(first: 1) { edges { node { identities { appId } } } } }` // 5 deep
	if got := apptest.Start(t).Do(t, "", q, nil); got.Code() != "UNAUTHENTICATED" {
		t.Fatalf("default limits: %s", got.Raw)
	}
	// QUERY_MAX_DEPTH=4 (TestParseConfig_QueryLimits reads it into this).
	ts := apptest.Start(t, apptest.WithConfig(func(cfg *app.Config) { cfg.QueryLimits.MaxDepth = 4 }))
	if got := ts.Do(t, "", q, nil); got.Code() != "QUERY_TOO_COMPLEX" || !strings.Contains(got.Raw, "nests 5 levels deep; at most 4") {
		t.Fatalf("QUERY_MAX_DEPTH=4: %s", got.Raw)
	}
}
