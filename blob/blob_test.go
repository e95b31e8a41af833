package blob

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDir_PutOpenServe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("\x89PNG fake bytes")
	key := Key(data, "png")
	for range 2 { // a second Put of the same key is a no-op
		if err := d.Put(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, key[:2], key)); err != nil {
		t.Fatalf("not stored two levels deep: %v", err)
	}
	for _, bad := range []string{"../x.png", key + "/..", strings.ToUpper(key), "a.png", key[:64] + ".gif"} {
		if err := d.Put(ctx, bad, data); err == nil {
			t.Errorf("Put(%q) was accepted", bad)
		}
		if _, err := d.Open(ctx, bad); err != ErrNotFound {
			t.Errorf("Open(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	srv := httptest.NewServer(Handler(d, "/avatars/"))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/avatars/" + key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != string(data) || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET = %d %q %q", resp.StatusCode, got, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest("GET", srv.URL+"/avatars/"+key, nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 304 {
		t.Fatalf("revalidation = %v %v, want 304", r.StatusCode, err)
	}
	if r, _ := http.Post(srv.URL+"/avatars/"+key, "image/png", nil); r.StatusCode != 405 {
		t.Fatalf("POST = %d", r.StatusCode)
	}
}

func TestDir_Delete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("\xff\xd8\xff fake jpeg")
	key := Key(data, "jpg")
	if err := d.Put(ctx, key, data); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(ctx, key); err != ErrNotFound {
		t.Fatalf("Open after Delete = %v, want ErrNotFound", err)
	}
	if err := d.Delete(ctx, key); err != ErrNotFound {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	// A key of any other shape never reaches the filesystem.
	outside := filepath.Join(root, "keep.jpg")
	if err := os.WriteFile(outside, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../keep.jpg", "keep.jpg", key + "/..", ""} {
		if err := d.Delete(ctx, bad); err != ErrNotFound {
			t.Errorf("Delete(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatal("a file outside the keys was deleted")
	}
	// Put after Delete writes the file again.
	if err := d.Put(ctx, key, data); err != nil {
		t.Fatal(err)
	}
	if f, err := d.Open(ctx, key); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
}
