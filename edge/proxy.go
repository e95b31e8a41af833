// Package edge is what every request meets first: who the client is (the
// socket's peer, or what a trusted proxy in front says), the security
// headers every response carries, and CORS for the API.
package edge

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies is the TRUSTED_PROXIES list: the peers whose X-Forwarded-For and
// X-Forwarded-Proto are believed. The zero value trusts no one.
type Proxies struct {
	prefixes []netip.Prefix
}

// maxProxies bounds the list, so that checking a peer stays cheap.
const maxProxies = 64

// ParseProxies reads a comma-separated list of IP addresses and CIDR
// prefixes ("10.0.0.0/8,127.0.0.1"); empty trusts no one. It is strict: a
// prefix with bits beyond its mask, an IPv4-mapped IPv6 form, a zone, or a
// prefix that covers every address (which would let anyone choose their IP)
// are refused, each with what to write instead.
func ParseProxies(s string) (Proxies, error) {
	var p Proxies
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	entries := strings.Split(s, ",")
	if len(entries) > maxProxies {
		return p, fmt.Errorf("lists %d entries, at most %d: use CIDR prefixes", len(entries), maxProxies)
	}
	for i, e := range entries {
		e = strings.TrimSpace(e)
		var pfx netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			pfx, err = netip.ParsePrefix(e)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(e); err == nil && a.Zone() == "" {
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
		}
		switch {
		case e == "":
			return Proxies{}, fmt.Errorf("entry %d is empty: want addresses or CIDR prefixes separated by commas", i+1)
		case err != nil || !pfx.IsValid():
			return Proxies{}, fmt.Errorf("entry %d (%q) is not an IP address or a CIDR prefix like 10.0.0.0/8", i+1, e)
		case pfx.Addr().Is4In6():
			return Proxies{}, fmt.Errorf("entry %d (%q): write IPv4 addresses in their IPv4 form", i+1, e)
		case pfx != pfx.Masked():
			return Proxies{}, fmt.Errorf("entry %d (%q) has bits beyond its mask: write %s", i+1, e, pfx.Masked())
		case pfx.Bits() == 0:
			return Proxies{}, fmt.Errorf("entry %d (%q) trusts every address, so any client could choose its IP: list your proxies", i+1, e)
		}
		p.prefixes = append(p.prefixes, pfx)
	}
	return p, nil
}

// Trusts reports whether a is one of the trusted proxies.
func (p Proxies) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pfx := range p.prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// Client is where a request came from, as far as this server can tell.
type Client struct {
	// IP is the client's address: the socket's peer, or the right-most
	// untrusted X-Forwarded-For hop when the peer is a trusted proxy.
	// Invalid when the socket address is not an IP one.
	IP netip.Addr
	// HTTPS is whether the client reached us over TLS: ours, or the
	// trusted proxy's X-Forwarded-Proto.
	HTTPS bool
}

// Bounds on the X-Forwarded-For walk: hops looked at, and the length of one
// (the longest address, bracketed IPv6 with a port, is 47 bytes).
const (
	maxHops   = 20
	maxHopLen = 64
)

// Resolve tells where r came from. Only a trusted peer's forwarding headers
// are read; then X-Forwarded-For (every such header, in order, as one list)
// is walked from the right, skipping trusted hops, and the first untrusted
// address is the client. A malformed hop, or more than maxHops, stops the
// walk at the last good hop (a trusted one, or the peer): the left-most
// entries are whatever the client wrote, never believed past a bad one.
func (p Proxies) Resolve(r *http.Request) Client {
	c := Client{IP: peerAddr(r.RemoteAddr), HTTPS: r.TLS != nil}
	if !c.IP.IsValid() || !p.Trusts(c.IP) {
		return c
	}
	c.IP = p.walk(c.IP, r.Header.Values("X-Forwarded-For"))
	if !c.HTTPS {
		c.HTTPS = forwardedHTTPS(r.Header.Values("X-Forwarded-Proto"))
	}
	return c
}

// walk returns the right-most untrusted address of the hops in values, or
// the last good (trusted) one, starting from the peer.
func (p Proxies) walk(last netip.Addr, values []string) netip.Addr {
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		if strings.Trim(v, " \t") == "" {
			continue // an empty header adds no hop
		}
		for {
			j := strings.LastIndexByte(v, ',')
			hop := v[j+1:]
			if hops++; hops > maxHops {
				return last
			}
			a, ok := parseHop(hop)
			if !ok {
				return last
			}
			if !p.Trusts(a) {
				return a
			}
			last = a
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return last
}

// parseHop reads one X-Forwarded-For entry: an IPv4 or IPv6 address,
// optionally with a port (IPv6 then in brackets), without a zone.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	if s == "" || len(s) > maxHopLen {
		return netip.Addr{}, false
	}
	host := s
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return netip.Addr{}, false
		}
	} else if h, port, ok := strings.Cut(s, ":"); ok && !strings.Contains(port, ":") {
		if !validPort(port) {
			return netip.Addr{}, false
		}
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" || (s[0] == '[' && !a.Is6()) {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for _, b := range []byte(s) {
		if b < '0' || b > '9' {
			return false
		}
		n = n*10 + int(b-'0')
	}
	return n <= 65535
}

// forwardedHTTPS reports whether the nearest proxy says the client used
// https: the last value of the last X-Forwarded-Proto header.
func forwardedHTTPS(values []string) bool {
	if len(values) == 0 {
		return false
	}
	v := values[len(values)-1]
	v = v[strings.LastIndexByte(v, ',')+1:]
	return strings.EqualFold(strings.Trim(v, " \t"), "https")
}

// peerAddr is the IP of a RemoteAddr ("ip:port"), without a zone and with
// IPv4-mapped IPv6 as IPv4; invalid if it is not one.
func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}

type clientKey struct{}

// WithClient returns ctx carrying c, as Handler does.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientOf returns what Handler found out about r's client; without Handler
// in front, the socket's peer over r's own TLS, never a forwarding header.
func ClientOf(r *http.Request) Client {
	if c, ok := r.Context().Value(clientKey{}).(Client); ok {
		return c
	}
	return Client{IP: peerAddr(r.RemoteAddr), HTTPS: r.TLS != nil}
}

// ClientIP is ClientOf(r).IP as text, or "" when it is not an IP.
func ClientIP(r *http.Request) string {
	if ip := ClientOf(r).IP; ip.IsValid() {
		return ip.String()
	}
	return ""
}
