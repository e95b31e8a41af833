// Package graph is the GraphQL layer: the gqlgen executor generated from
// schema.graphqls, thin resolvers that call auth, the bearer-token
// middleware and the error presenter.
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
