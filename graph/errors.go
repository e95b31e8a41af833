package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"wxlogin/edge"
	"wxlogin/models"
)

// PresentError turns every error into one a client may see: the code and
// message of a *models.Error, gqlgen's own request errors with their codes,
// and anything else as INTERNAL with the request id — logged here with its
// cause, which never reaches the client.
func PresentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var appErr *models.Error
		if errors.As(err, &appErr) {
			out := &gqlerror.Error{Message: appErr.Message, Path: gqlErr.Path, Locations: gqlErr.Locations,
				Extensions: map[string]any{"code": appErr.Code}}
			for k, v := range appErr.Extensions {
				if k != "code" {
					out.Extensions[k] = v
				}
			}
			cause := appErr.Cause
			if cause == nil {
				cause = appErr
			}
			switch appErr.Code {
			case models.CodeInternal:
				return internal(ctx, log, out, cause)
			case models.CodeWechatUnavailable:
				log.WarnContext(ctx, "wechat unavailable", "request_id", edge.RequestID(ctx), "err", cause)
			case models.CodeQueryTimeout:
				// Not our fault, but an operator tuning the admin pool
				// or its timeout needs to see how often it happens.
				log.WarnContext(ctx, "admin query stopped", "request_id", edge.RequestID(ctx), "err", cause)
			}
			return out
		}
		if gqlErr.Err == nil {
			// gqlgen's parse, validation and coercion errors describe the
			// request and carry their own code where gqlgen sets one.
			if _, ok := gqlErr.Extensions["code"]; !ok {
				if gqlErr.Extensions == nil {
					gqlErr.Extensions = map[string]any{}
				}
				gqlErr.Extensions["code"] = models.CodeBadUserInput
			}
			return gqlErr
		}
		return internal(ctx, log, &gqlerror.Error{Path: gqlErr.Path, Locations: gqlErr.Locations}, err)
	}
}

// internal logs cause under the request id and returns out as a bare INTERNAL error.
func internal(ctx context.Context, log *slog.Logger, out *gqlerror.Error, cause error) *gqlerror.Error {
	id := edge.RequestID(ctx)
	log.ErrorContext(ctx, "internal error", "request_id", id, "path", out.Path.String(), "err", cause)
	out.Message = fmt.Sprintf("internal error (request id %s)", id)
	out.Extensions = map[string]any{"code": models.CodeInternal, "requestId": id}
	return out
}

// RecoverPanic turns a resolver panic into an INTERNAL error; the stack goes
// to the log only.
func RecoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "request_id", edge.RequestID(ctx), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return models.WrapError(fmt.Errorf("panic: %v", p), models.CodeInternal, "internal error")
	}
}
