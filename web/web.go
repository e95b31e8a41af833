// Package web serves the browser pages built into the binary: the admin
// dashboard at /admin/ and, in dev mode, the GraphQL playground at
// /playground/. Both are static files embedded at build time that talk only
// to /graphql, so running them needs no Node.js and no network.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed admin playground
var files embed.FS

// Content-Security-Policy of each page. Neither allows inline scripts, so
// markup that reached the page from the database could not run.
const (
	// adminCSPFormat takes the dashboard's image sources beyond its own:
	// the avatar hosts the server may hand out, and no other, so an
	// avatar URL written into the database by other means cannot make an
	// admin's browser call a stranger's server.
	adminCSPFormat = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:%s; " +
		"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	// GraphiQL's editor sets style attributes and injects <style> elements
	// at run time, so styles (never scripts) may be inline here.
	playgroundCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// Admin returns the dashboard's handler, to mount at /admin/. A path that
// names no file and has no extension is a client-side route and gets the
// app's index.html; a missing file with an extension is a plain 404.
// imgSources are the origins avatars may come from besides the server
// itself (profile.ImageSources).
func Admin(imgSources ...string) http.Handler {
	return mustSite("admin", "/admin/", AdminCSP(imgSources...), true)
}

// AdminCSP is the dashboard's Content-Security-Policy with imgSources
// allowed for images.
func AdminCSP(imgSources ...string) string {
	extra := ""
	for _, s := range imgSources {
		extra += " " + s
	}
	return fmt.Sprintf(adminCSPFormat, extra)
}

// Playground returns the GraphiQL playground's handler, to mount at
// /playground/. Dev mode only: production refuses introspection anyway.
func Playground() http.Handler {
	return mustSite("playground", "/playground/", playgroundCSP, false)
}

// asset is one embedded file, ready to send.
type asset struct {
	body []byte
	gz   []byte // nil when gzip would not make it smaller
	etag string
	// gzETag names the gzipped body: a strong ETag names one exact
	// sequence of bytes, and the two bodies differ.
	gzETag string
	ctype  string
}

// site serves one embedded folder under a URL prefix.
type site struct {
	prefix string
	csp    string
	spa    bool
	assets map[string]*asset
}

func mustSite(dir, prefix, csp string, spa bool) *site {
	s := &site{prefix: prefix, csp: csp, spa: spa, assets: map[string]*asset{}}
	err := fs.WalkDir(files, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		s.assets[strings.TrimPrefix(p, dir+"/")] = newAsset(p, b)
		return nil
	})
	if err != nil {
		panic("web: reading the embedded " + dir + " files: " + err.Error())
	}
	if s.assets["index.html"] == nil {
		panic("web: the embedded " + dir + " folder has no index.html")
	}
	return s
}

// contentTypes are the types of the files the pages are made of; anything
// else is sent as application/octet-stream, which nosniff keeps inert.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
	".map":   "application/json",
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:12])
	a := &asset{body: body, etag: `"` + tag + `"`, gzETag: `"` + tag + `-gz"`, ctype: contentTypes[path.Ext(name)]}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	// Compressed once here rather than per request: the vendored GraphiQL
	// is over a megabyte and shrinks to a fifth.
	if len(body) > 1024 && (strings.HasPrefix(a.ctype, "text/") || strings.Contains(a.ctype, "json") || strings.Contains(a.ctype, "svg")) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

// ServeHTTP answers GET and HEAD for the site's files.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", s.csp)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	a := s.assets[name]
	if a == nil && s.spa && path.Ext(name) == "" && !strings.Contains(name, "..") {
		a = s.assets["index.html"]
	}
	if a == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	// Every file is revalidated, and answered 304 while its ETag (a hash of
	// its content) still matches: a new binary's files are seen at once, an
	// unchanged one costs a round trip of headers.
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Type", a.ctype)
	h.Add("Vary", "Accept-Encoding")
	body, etag := a.body, a.etag
	gz := a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		body, etag = a.gz, a.gzETag
	}
	h.Set("ETag", etag)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// etagMatch reports whether an If-None-Match header lists etag (weakly, as
// RFC 9110 asks for GET).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding allows gzip (q=0 refuses it).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q=")
		if !ok {
			return true
		}
		w, err := strconv.ParseFloat(q, 64)
		return err != nil || w > 0
	}
	return false
}
