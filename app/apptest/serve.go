package apptest

import (
	"context"
	"regexp"
	"testing"
	"time"

	"wxlogin/app"
)

// Served is `wxlogin serve` running in this process, as main runs it:
// settings from the environment, the banner on stdout, the drain on ctx's end.
type Served struct {
	// Addr is the host:port it listens on, read off its banner.
	Addr string
	// Done receives app.Run's result once ctx has ended and the drain is over.
	Done <-chan error
	// Stdout and Stderr are what it wrote.
	Stdout, Stderr *SyncBuffer
}

var listening = regexp.MustCompile(`listening on http://([^\s"]+)`)

// Serve runs `wxlogin serve` with env until ctx ends: the second entry
// beside Start, for tests of what main does (signals, the drain, the
// banner). It fails tb unless the server announces its address within 30 s.
func Serve(tb testing.TB, ctx context.Context, env func(string) string) *Served {
	tb.Helper()
	stdout, stderr := &SyncBuffer{}, &SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, []string{"serve"}, env, nil, stdout, stderr) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			return &Served{Addr: m[1], Done: done, Stdout: stdout, Stderr: stderr}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("serve printed no address\n%s", stderr.String())
		}
	}
}
