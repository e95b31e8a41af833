package graph

import (
	"context"
	"net/http"

	"wxlogin/admin"
)

type clientKey struct{}

// Client is where a request came from, recorded on the sessions it
// creates; the HTTP handler puts it in each request's context (WithRequest).
type Client struct {
	// IP is the real client's address (edge.ClientIP): the socket's peer,
	// or what a trusted proxy (TRUSTED_PROXIES) says in X-Forwarded-For;
	// "" if unknown.
	IP        string
	UserAgent string
	// HTTPS is whether the client reached us over https (edge.Client).
	HTTPS bool
	// Request and Response are the request and its response, for
	// adminLogin's device cookie (admin.DeviceCookieName), the one cookie
	// this API reads and sets. A mutation's fields run one at a time,
	// before the transport writes the response, so a resolver may add a
	// header.
	Request  *http.Request
	Response http.ResponseWriter
}

// adminDevice is the request's admin device cookies, all of them: one
// planted ahead of the real one must not hide it.
func (c Client) adminDevice() []string {
	if c.Request == nil {
		return nil
	}
	return admin.DeviceCookies(c.Request)
}

// setCookie adds ck to the response; nothing when ck is nil.
func (c Client) setCookie(ck *http.Cookie) {
	if ck != nil && c.Response != nil {
		http.SetCookie(c.Response, ck)
	}
}

// WithRequest gives ctx what the resolvers need of one HTTP request: its
// client, and loaders of its own (made on first use), whose caches must not
// outlive the request or leak one admin's view into another's.
func WithRequest(ctx context.Context, c Client, adm *admin.Service) context.Context {
	ctx = context.WithValue(ctx, clientKey{}, c)
	return context.WithValue(ctx, loadersKey{}, &lazyLoaders{adm: adm})
}

func clientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
