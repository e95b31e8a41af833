package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"wxlogin/admin"
	"wxlogin/auth"
	"wxlogin/models"
)

// hasRole implements @hasRole(role:) once for every admin field: without an
// admin session UNAUTHENTICATED, with a user's token or a lesser role
// FORBIDDEN. A denial is always an error, never a silent null.
func hasRole(users *auth.Service, admins *admin.Service) func(ctx context.Context, obj any, next graphql.Resolver, role models.Role) (any, error) {
	return func(ctx context.Context, obj any, next graphql.Resolver, role models.Role) (any, error) {
		if _, err := admins.Require(ctx, role); err != nil {
			if models.ErrorCode(err) == models.CodeUnauthenticated && !admin.HasToken(ctx) {
				if _, uerr := users.Caller(ctx); uerr == nil {
					return nil, models.Errorf(models.CodeForbidden, "a user's token cannot do this; it needs an admin with the %s role", role)
				}
			}
			return nil, err
		}
		return next(ctx)
	}
}
