package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"

	"github.com/google/uuid"

	"wxlogin/models"
	"wxlogin/ratelimit"
)

// Device cookies keep the per-username limit from being turned on its
// owner (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").
// Ten wrong passwords for "admin" from ten strangers' addresses used to
// lock the real admin out, and one guess every 1.5 minutes kept them out.
// A browser that signed in as an admin gets a cookie naming that admin,
// signed with a key derived from SECRET_KEY; a sign-in for that admin which
// carries it is counted per device only, instead of per username and per
// network, so strangers' guesses do not shut it out, while strangers (no
// cookie) keep both limits. It is exempt from the per-network limit too:
// that limit is shared by everyone behind one IPv4 NAT or IPv6 /64 (and by
// every client when a proxy is missing from TRUSTED_PROXIES), so 50 guesses
// at made-up usernames from the admin's network used to lock the admin out
// with the cookie. This keeps the protection: a cookie is only issued by a
// successful sign-in, so only someone who knew the password holds one, and
// each device has a budget of its own (MaxPerDevice), so a stolen cookie is
// worth ten guesses a window at its one admin and no more. A cookie also
// carries a tag of the admin's password hash, so a new password (which ends
// the admin's sessions) makes the devices signed in with the old one count
// as none: whoever once had the password keeps no budget from it.
//
// The alternative, counting per (username, network) with only a delay
// across networks, was not taken: a /48 holds 65,536 /64s, so the guesses
// at one username would be bounded by the hash slots alone, not a count.
// The cost of this design: an admin on a new browser (or a private
// window) during an attack waits like a stranger; the command line
// (`wxlogin admin passwd`) does not need to sign in.
//
// Cookies are not isolated by port or scheme, and a sibling subdomain may
// set one for the parent domain, so whoever controls one of those can plant
// a cookie of the same name ahead of the real one. Every cookie of the name
// is therefore tried (up to maxDeviceCookies, so a request cannot make many
// HMAC checks), and over https the cookie is named with the __Host- prefix,
// which browsers only accept from this very host (on any port) over https,
// with Path=/ and no Domain: those are tried first, and the plain name
// (plain http, and cookies issued before the prefix) after them.
const (
	// DeviceCookieName is the device cookie's name over plain http. It is
	// sent only to /graphql, and only adminLogin reads it.
	DeviceCookieName = "wxlogin_admin_device"
	// DeviceCookiePath is the only path the plain-http cookie is sent to.
	DeviceCookiePath = "/graphql"
	// HostDeviceCookieName is the device cookie's name over https: the
	// __Host- prefix makes browsers refuse it from anywhere but this host
	// over https, and requires Path=/ (only adminLogin reads it still).
	HostDeviceCookieName = "__Host-" + DeviceCookieName
	// DeviceTTL is how long a device stays trusted after its last sign-in;
	// every sign-in issues a fresh cookie.
	DeviceTTL = 90 * 24 * time.Hour
	// MaxPerDevice is a trusted device's own budget of failed sign-ins
	// per AttemptWindow, in place of the per-username one.
	MaxPerDevice = MaxPerUsername
	// maxDeviceCookies is how many of a request's device cookies are tried.
	maxDeviceCookies = 8
)

// A device cookie is base64url(admin id (16) | issued, Unix seconds (8) |
// nonce (16) | password tag (8, see passwordTag) | HMAC-SHA256 of those
// under the device key (32)).
const (
	devicePayloadLen = 16 + 8 + 16 + passwordTagLen
	passwordTagLen   = 8
	deviceRawLen     = devicePayloadLen + sha256.Size
	// deviceCookieLen is the cookie value's length; anything else is
	// refused before it is decoded.
	deviceCookieLen = (deviceRawLen*8 + 5) / 6
)

// deviceKeyLabel separates the device key from SECRET_KEY's other uses.
const deviceKeyLabel = "wxlogin admin device cookie v2"

// deviceKey derives the key device cookies are signed with from SECRET_KEY;
// nil (no device cookies) without one.
func deviceKey(secret []byte) []byte {
	if len(secret) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(deviceKeyLabel))
	return m.Sum(nil)
}

// device is a device cookie that verified.
type device struct {
	adminID string
	// passwordTag is passwordTag of the admin's password hash when issued.
	passwordTag string
	// key is the device's counter key in login_attempts.
	key string
	// signKey is the key it verified under: the current one, or one of
	// SECRET_KEY_PREVIOUS's during a rotation, under which its password tag
	// was made too.
	signKey []byte
}

// passwordTag ties a device cookie to the password hash it was issued
// under. Eight bytes are plenty: the cookie's MAC covers it, so it only has
// to differ between two hashes of one admin.
func passwordTag(key []byte, passwordHash string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("password\x00" + passwordHash))
	return string(m.Sum(nil)[:passwordTagLen])
}

// newDevice returns a fresh device cookie value for the admin with id and
// that password hash.
func newDevice(key []byte, adminID, passwordHash string, now time.Time) string {
	id, err := uuid.Parse(adminID)
	if key == nil || err != nil {
		return ""
	}
	raw := make([]byte, devicePayloadLen, deviceRawLen)
	copy(raw, id[:])
	binary.BigEndian.PutUint64(raw[16:], uint64(now.Unix()))
	_, _ = rand.Read(raw[24:40])
	copy(raw[40:], passwordTag(key, passwordHash))
	m := hmac.New(sha256.New, key)
	m.Write(raw)
	return base64.RawURLEncoding.EncodeToString(m.Sum(raw))
}

// parseDevice verifies a device cookie: signed under key, issued no more
// than DeviceTTL before now (and not in its future). ok is false for
// anything else, which then counts as no cookie at all.
func parseDevice(key []byte, value string, now time.Time) (d device, ok bool) {
	if key == nil || len(value) != deviceCookieLen {
		return device{}, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil || len(raw) != deviceRawLen {
		return device{}, false
	}
	m := hmac.New(sha256.New, key)
	m.Write(raw[:devicePayloadLen])
	if !hmac.Equal(m.Sum(nil), raw[devicePayloadLen:]) {
		return device{}, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw[16:24])), 0)
	if issued.After(now.Add(time.Minute)) || now.Sub(issued) > DeviceTTL {
		return device{}, false
	}
	id, _ := uuid.FromBytes(raw[:16])
	return device{adminID: id.String(), passwordTag: string(raw[40:devicePayloadLen]),
		key: ratelimit.Key("device", string(raw[24:40]))}, true
}

// DeviceCookie is the Set-Cookie of a sign-in's device cookie: HttpOnly
// (the page never reads it), SameSite=Strict. Over https it is Secure and
// named HostDeviceCookieName, which requires Path=/; over plain http (a
// dev server could not keep a Secure one) it is DeviceCookieName, only for
// /graphql. Nil when the sign-in made none.
func (r *LoginResult) DeviceCookie(https bool) *http.Cookie {
	if r == nil || r.Device == "" {
		return nil
	}
	ck := &http.Cookie{Name: DeviceCookieName, Value: r.Device, Path: DeviceCookiePath,
		MaxAge: int(DeviceTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode}
	if https {
		ck.Name, ck.Path, ck.Secure = HostDeviceCookieName, "/", true
	}
	return ck
}

// DeviceCookies returns the values of r's device cookies for
// LoginInput.Devices: the __Host- ones first (nobody but this host over
// https can set those), then the plain ones, at most maxDeviceCookies.
func DeviceCookies(r *http.Request) []string {
	var vs []string
	for _, name := range []string{HostDeviceCookieName, DeviceCookieName} {
		for _, ck := range r.CookiesNamed(name) {
			if len(vs) == maxDeviceCookies {
				return vs
			}
			vs = append(vs, ck.Value)
		}
	}
	return vs
}

// trusts reports whether d is a device of a, signed in with its current
// password; tag is passwordTag of a's password hash.
func (d device) trusts(a *models.Admin, tag string) bool {
	return a != nil && a.ID == d.adminID && hmac.Equal([]byte(d.passwordTag), []byte(tag))
}

// verifiedDevices returns the devices that verify among the first
// maxDeviceCookies of values, in order.
func (s *Service) verifiedDevices(values []string) []device {
	var ds []device
	for _, v := range values[:min(len(values), maxDeviceCookies)] {
		for _, key := range s.deviceKeys {
			if d, ok := parseDevice(key, v, s.now()); ok {
				d.signKey = key
				ds = append(ds, d)
				break
			}
		}
	}
	return ds
}
