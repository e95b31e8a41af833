// Package blob keeps immutable, content-addressed files — uploaded avatars —
// behind a small interface, with a filesystem implementation. An
// S3-compatible store can stand behind the same interface later.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Store keeps files by key. Keys are content hashes, so a key's bytes never
// change: Put of an existing key is a no-op, and readers may cache forever.
type Store interface {
	// Put stores data under key unless it is already there.
	Put(ctx context.Context, key string, data []byte) error
	// Open returns the file under key, or ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Delete removes the file under key, or answers ErrNotFound. Callers
	// delete only a file no user points at any more.
	Delete(ctx context.Context, key string) error
}

// ErrNotFound is Open's answer for a key that holds nothing.
var ErrNotFound = errors.New("blob: not found")

// keyPattern is the only shape of key: a sha256 in hex and an image
// extension. Nothing else reaches the filesystem, so no key can name a path
// outside the store's folder.
var keyPattern = regexp.MustCompile(`^[0-9a-f]{64}\.(jpg|png)$`)

// Key returns the content-addressed key of data with the extension ext
// ("jpg" or "png").
func Key(data []byte, ext string) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]) + "." + ext
}

// ValidKey reports whether key has the shape Key gives.
func ValidKey(key string) bool { return keyPattern.MatchString(key) }

// Dir is a Store in a folder of the local filesystem, two levels deep by
// the key's first characters so no folder grows to millions of entries.
// Several instances may share it over a network filesystem: a file appears
// whole (written to a temporary name, then renamed) or not at all.
type Dir struct {
	root string
}

// NewDir returns a Dir at root, creating the folder if need be.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("blob: making %s: %w", root, err)
	}
	return &Dir{root: root}, nil
}

func (d *Dir) path(key string) string {
	return filepath.Join(d.root, key[:2], key)
}

// Put writes data under key, atomically.
func (d *Dir) Put(_ context.Context, key string, data []byte) error {
	if !ValidKey(key) {
		return fmt.Errorf("blob: invalid key")
	}
	p := d.path(key)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("blob: writing: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

// Open opens the file under key.
func (d *Dir) Open(_ context.Context, key string) (io.ReadSeekCloser, error) {
	if !ValidKey(key) {
		return nil, ErrNotFound
	}
	f, err := os.Open(d.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return f, nil
}

// Delete removes the file under key.
func (d *Dir) Delete(_ context.Context, key string) error {
	if !ValidKey(key) {
		return ErrNotFound
	}
	err := os.Remove(d.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotFound
	} else if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

// DeleteAll deletes every key of keys from s (none when s is nil), going
// on past a failure (a file already gone is none), and returns the failures joined.
func DeleteAll(ctx context.Context, s Store, keys []string) error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// Handler serves the files of s under prefix (e.g. "/avatars/"): a key's
// bytes never change, so they are cached for a year, and nosniff with an
// exact type keeps a browser from reading them as anything but an image.
func Handler(s Store, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		key := r.URL.Path[min(len(prefix), len(r.URL.Path)):]
		if !ValidKey(key) {
			http.NotFound(w, r)
			return
		}
		f, err := s.Open(r.Context(), key)
		if errors.Is(err, ErrNotFound) {
			http.NotFound(w, r)
			return
		} else if err != nil {
			http.Error(w, "could not read the file", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", map[string]string{"jpg": "image/jpeg", "png": "image/png"}[filepath.Ext(key)[1:]])
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		h.Set("ETag", `"`+key[:32]+`"`)
		http.ServeContent(w, r, "", time.Time{}, f)
	})
}
