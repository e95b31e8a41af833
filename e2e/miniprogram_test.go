package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"wxlogin/app"
	"wxlogin/app/apptest"
)

// miniProgramPolicy is the example's POLICY_VERSION (examples/miniprogram/app.js).
const miniProgramPolicy = "2026-11"

// todoLine is a todo test in node's spec report: "✔ name (2ms) # reason".
var todoLine = regexp.MustCompile(`(?m)^\s*✔ .* # .*$`)

// skipLine is a skipped test: "﹣ name (0.1ms) # reason". The tests skip only
// what this server lacks (WXLOGIN_POLICY_VERSION unset), which it does not.
var skipLine = regexp.MustCompile(`(?m)^\s*﹣ .* # .*$`)

// TestMiniProgram runs the example mini program's client tests
// (examples/miniprogram/test, Node's built-in runner) against this program
// in dev mode, with content checks on, on the package's fresh database: its lib/wxlogin.js with a
// fake wx over real HTTP, wx.login's codes minted by the mounted simulator.
// Without node it skips, unless MINIPROGRAM_TEST=require (as
// scripts/miniprogram-test.sh sets, after installing node).
func TestMiniProgram(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("MINIPROGRAM_TEST") == "require" {
			t.Fatal("MINIPROGRAM_TEST=require but node is not on PATH")
		}
		t.Skip("node is not installed; scripts/miniprogram-test.sh installs it and runs this test")
	}
	files, err := filepath.Glob(filepath.Join("..", "examples", "miniprogram", "test", "*.test.js"))
	if err != nil || len(files) == 0 {
		t.Fatal("no examples/miniprogram/test/*.test.js")
	}
	for i, f := range files {
		files[i] = filepath.Join("test", filepath.Base(f))
	}

	// With a policy version, as a mini program that asks for consent runs:
	// the tests see the re-consent prompt. The same value as app.js's
	// POLICY_VERSION (the tests read it from WXLOGIN_POLICY_VERSION).
	// Content checks on (dev mode's default is off), as in production: the
	// page's test of a refused nickname needs the simulator's verdict. An
	// app id of its own: the access token row is per app id in the
	// package's database, and each dev server's simulator knows only the
	// tokens it issued. Dev mode needs no PUBLIC_URL: avatars are checked at
	// the server's own address.
	ts := apptest.Start(t, apptest.DevMode(), withPolicy(miniProgramPolicy),
		apptest.WithConfig(func(c *app.Config) { c.ContentCheck, c.WechatAppID = true, phoneAppID() }))
	m, logs := ts.Main, ts.Logs

	// Every node test has its own 10 s bound, and the fake wx cuts off a
	// client caught in a loop; this bounds the whole run besides.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"--test", "--test-reporter=spec"}, files...)...)
	cmd.Dir = filepath.Join("..", "examples", "miniprogram")
	cmd.Env = append(os.Environ(), "WXLOGIN_URL="+m.URL(), "WXLOGIN_POLICY_VERSION="+miniProgramPolicy, "NO_COLOR=1")
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("node --test %v (%s):\n%s", files, time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Logf("server log:\n%s", logs.String())
		t.Fatalf("node --test failed: %v", err)
	}
	for _, skipped := range skipLine.FindAll(out, -1) {
		t.Errorf("skipped against this server: %s", skipped)
	}
	// A todo test passes without running; say which, so it is not forgotten.
	for _, todo := range todoLine.FindAll(out, -1) {
		t.Logf("todo: %s", todo)
	}
}
