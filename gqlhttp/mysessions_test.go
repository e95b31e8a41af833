package gqlhttp

import "testing"

// TestLimits_MySessionsCost: mySessions costs its rows as the connections
// do, an out-of-range first counting as the nearest bound (the resolver
// refuses it), and the devices screen's largest query fits with room.
func TestLimits_MySessionsCost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  int
	}{
		{`{ mySessions { id current } }`, 20*2 + 1}, // default 20
		{`{ mySessions(first: 3) { id } }`, 3*1 + 1},
		{`{ mySessions(first: 50) { id } }`, 50*1 + 1},
		{`{ mySessions(first: 0) { id } }`, 1*1 + 1},
		{`{ mySessions(first: 2000000000) { id } }`, 50*1 + 1},
		{`mutation { logoutEverywhere(keepCurrent: true) }`, 1},
		{`mutation { revokeMySession(id: "x") }`, 1},
	} {
		if got := complexityOf(t, tc.query, nil); got != tc.want {
			t.Errorf("%s: complexity %d, want %d", tc.query, got, tc.want)
		}
	}
	const screen = `query($n: Int) { me { id nickname avatarUrl } mySessions(first: $n) { id appId createdAt lastSeenAt expiresAt current ip userAgent } }`
	cost, limit := complexityOf(t, screen, map[string]any{"n": 50}), DefaultLimits.MaxComplexity
	t.Logf("devices screen at 50 sessions: complexity %d of %d", cost, limit)
	if cost > limit/4 {
		t.Fatalf("devices screen: complexity %d, more than a quarter of the limit %d", cost, limit)
	}
}
