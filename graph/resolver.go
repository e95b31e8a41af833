// Package graph is the GraphQL schema's side of the API: the gqlgen executor
// generated from schema.graphqls, thin resolvers that call the services,
// the loaders, the @hasRole directive and the error presenter. Serving it
// over HTTP (transport, limits, the `me` fast path) is package gqlhttp's.
package graph

import (
	"wxlogin/admin"
	"wxlogin/auth"
	"wxlogin/profile"
)

// Resolver holds the services resolvers call.
type Resolver struct {
	Auth    *auth.Service
	Admin   *admin.Service
	Profile *profile.Service
	// PublicURL makes uploaded avatars' paths absolute; empty leaves them paths.
	PublicURL string
}

// deref reads an optional GraphQL string, absent meaning empty.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// NewConfig is the executable schema's configuration for r: its resolvers
// and the @hasRole directive. The HTTP handler adds the fields' costs.
func NewConfig(r *Resolver) Config {
	c := Config{Resolvers: r}
	c.Directives.HasRole = hasRole(r.Auth, r.Admin)
	return c
}
