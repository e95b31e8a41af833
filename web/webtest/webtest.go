// Package webtest starts headless Chromium, driven by chromedp, for the
// browser tests of the pages in package web.
package webtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromeNames are where Debian (chromium) and others put the browser.
var chromeNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// ChromePath returns the browser to drive: $CHROME_PATH, else the first of
// chromeNames on PATH, else "".
func ChromePath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, n := range chromeNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Browser starts a headless Chromium for one test with a w×h window and
// returns a context for its first tab; the browser is closed when the test
// ends. A missing browser fails the test: make test installs Debian's
// chromium, and a browser test that quietly skips would prove nothing.
// The browser speaks English (en-US), whatever the machine's locale.
func Browser(t testing.TB, w, h int) context.Context {
	t.Helper()
	return BrowserLang(t, w, h, "en-US")
}

// BrowserLang is Browser with lang (a BCP 47 tag such as "zh-CN") as the
// browser's language: navigator.language, Accept-Language and Intl's
// default locale.
func BrowserLang(t testing.TB, w, h int, lang string) context.Context {
	t.Helper()
	exe := ChromePath()
	if exe == "" {
		t.Fatal("no Chromium found (set CHROME_PATH, or run make test, which installs Debian's chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang),
		chromedp.Env("LANG="+strings.ReplaceAll(lang, "-", "_")+".UTF-8", "LANGUAGE="+strings.ReplaceAll(lang, "-", "_")),
		// The machine's network is closed: without these Chromium keeps
		// dialling Google's services, and every refused dial is noise.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	// Start the browser now, so a broken installation fails here, clearly.
	// No timeout on this first run: chromedp ties the browser's life to it.
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	return ctx
}
