package admin

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"wxlogin/models"
)

// A device cookie verifies only as issued: under this key, whole, within
// DeviceTTL, naming the admin it was issued to, trusted only while that
// admin's password hash is the one it was issued under.
func TestParseDevice(t *testing.T) {
	t.Parallel()
	key := deviceKey(bytes.Repeat([]byte{1, 2, 3, 4}, 8))
	const id = "0190a6b2-7c1d-7e00-8000-000000000001"
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	v := newDevice(key, id, hash, now)
	if len(v) != deviceCookieLen {
		t.Fatalf("cookie %q is %d long, want %d", v, len(v), deviceCookieLen)
	}
	d, ok := parseDevice(key, v, now.Add(DeviceTTL-time.Second))
	if !ok || d.adminID != id || !strings.HasPrefix(d.key, "device:") {
		t.Fatalf("parseDevice = %+v, %v", d, ok)
	}
	if !d.trusts(&models.Admin{ID: id, PasswordHash: hash}, passwordTag(key, hash)) {
		t.Fatal("not trusted for the admin it was issued to")
	}
	newHash := hash[:len(hash)-1] + "B"
	if d.trusts(&models.Admin{ID: id, PasswordHash: newHash}, passwordTag(key, newHash)) {
		t.Fatal("trusted after the admin's password changed")
	}
	if d.trusts(&models.Admin{ID: "0190a6b2-7c1d-7e00-8000-000000000002", PasswordHash: hash}, passwordTag(key, hash)) || d.trusts(nil, "") {
		t.Fatal("trusted for another admin, or none")
	}
	if other := newDevice(key, id, hash, now); other == v {
		t.Fatal("two cookies for one admin are equal: no nonce")
	} else if d2, _ := parseDevice(key, other, now); d2.key == d.key {
		t.Fatal("two devices share a counter")
	}
	flip := func(i int) string {
		b := []byte(v)
		b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
		return string(b)
	}
	for name, tc := range map[string]struct {
		key   []byte
		value string
		at    time.Time
	}{
		"expired":                {key, v, now.Add(DeviceTTL + time.Second)},
		"issued in the future":   {key, v, now.Add(-time.Hour)},
		"another key":            {deviceKey(bytes.Repeat([]byte{5, 6, 7, 8}, 8)), v, now},
		"no key (no SECRET_KEY)": {nil, v, now},
		"admin id changed":       {key, flip(3), now},
		"signature changed":      {key, flip(len(v) - 3), now},
		"one character short":    {key, v[:len(v)-1], now},
		"padded":                 {key, v + "=", now},
		"standard alphabet":      {key, strings.Repeat("+", deviceCookieLen), now},
		"empty":                  {key, "", now},
	} {
		if _, ok := parseDevice(tc.key, tc.value, tc.at); ok {
			t.Errorf("%s: verified", name)
		}
	}
	if newDevice(nil, id, hash, now) != "" || newDevice(key, "not-a-uuid", hash, now) != "" {
		t.Fatal("a cookie without a key or an admin id")
	}

	ck := (&LoginResult{Device: v}).DeviceCookie(true)
	if ck.Name != HostDeviceCookieName || ck.Path != "/" || ck.Domain != "" || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge != int(DeviceTTL.Seconds()) {
		t.Fatalf("cookie over https %+v", ck)
	}
	if err := ck.Valid(); err != nil {
		t.Fatal(err)
	}
	if ck := (&LoginResult{Device: v}).DeviceCookie(false); ck.Name != DeviceCookieName || ck.Path != "/graphql" || ck.Secure || !ck.HttpOnly {
		t.Fatalf("cookie over plain http %+v", ck)
	}
	if (&LoginResult{}).DeviceCookie(true) != nil {
		t.Fatal("a cookie without a device")
	}
}

// DeviceCookies tries the __Host- cookies first, which nobody but this host
// over https can set, then the plain ones, in their order, at most 8.
func TestDeviceCookies(t *testing.T) {
	t.Parallel()
	r, _ := http.NewRequest("POST", "/graphql", nil)
	r.Header.Set("Cookie", "wxlogin_admin_device=p1; other=x; __Host-wxlogin_admin_device=h1; wxlogin_admin_device=p2; __Host-wxlogin_admin_device=h2")
	if got := strings.Join(DeviceCookies(r), " "); got != "h1 h2 p1 p2" {
		t.Fatalf("DeviceCookies = %q, want h1 h2 p1 p2", got)
	}
	r.Header.Set("Cookie", strings.Repeat("wxlogin_admin_device=x; ", 100))
	if n := len(DeviceCookies(r)); n != maxDeviceCookies {
		t.Fatalf("%d of 100 cookies tried, want %d", n, maxDeviceCookies)
	}
	r.Header.Del("Cookie")
	if DeviceCookies(r) != nil {
		t.Fatal("cookies from a request without any")
	}
}

// During a SECRET_KEY rotation, a device cookie signed under the previous
// key still verifies (its password tag under that key), so that admins'
// browsers are not untrusted by it; a key nobody configured verifies none.
func TestVerifiedDevices_PreviousKeys(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := bytes.Repeat([]byte{1, 2, 3, 4}, 8), bytes.Repeat([]byte{5, 6, 7, 8}, 8)
	const id = "0190a6b2-7c1d-7e00-8000-000000000001"
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	now := time.Now()
	old := newDevice(deviceKey(oldSecret), id, hash, now)
	a := &models.Admin{ID: id, PasswordHash: hash}

	rotated := NewService(nil, Config{SecretKey: newSecret, PreviousSecretKeys: [][]byte{oldSecret}})
	ds := rotated.verifiedDevices([]string{old})
	if len(ds) != 1 || !ds[0].trusts(a, passwordTag(ds[0].signKey, hash)) {
		t.Fatalf("a cookie signed under SECRET_KEY_PREVIOUS: %+v, want it trusted", ds)
	}
	if fresh := rotated.verifiedDevices([]string{newDevice(rotated.deviceKey, id, hash, now)}); len(fresh) != 1 {
		t.Fatal("a cookie signed under the current key does not verify")
	}
	if ds := NewService(nil, Config{SecretKey: newSecret}).verifiedDevices([]string{old}); len(ds) != 0 {
		t.Fatalf("a cookie under a key no longer configured verified: %+v", ds)
	}
}
