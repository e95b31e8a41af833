package graph

import (
	"context"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"

	"wxlogin/admin"
	"wxlogin/auth"
	"wxlogin/models"
)

// loaders batch the per-user lookups of one request: a page of 100 users
// with their identities and sessions costs one query for each, not 200.
type loaders struct {
	identities *dataloadgen.Loader[string, []*models.Identity]
	sessions   *dataloadgen.Loader[string, []*models.Session]
	// moderation loads user_moderation rows, nil for a user without one.
	moderation *dataloadgen.Loader[string, *models.Moderation]
	// disabledBy loads the admin who disabled each user, nil for none.
	disabledBy *dataloadgen.Loader[string, *models.Admin]
}

type loadersKey struct{}

// lazyLoaders are made on first use: most requests (me, login) never need
// them, and the hot path should not pay for them.
type lazyLoaders struct {
	adm  *admin.Service
	once sync.Once
	l    *loaders
	// policy loads users' accepted policy versions, made on first use by
	// policyVersionOf: users read it too, so it needs no admin service.
	policyOnce sync.Once
	policy     *dataloadgen.Loader[string, string]
}

// policyVersionOf returns the policy version the user with id accepted
// last, "" when none: through the request's loader, so that a page of users
// with policyVersion and consentRequired costs one query, not two per user.
func policyVersionOf(ctx context.Context, a *auth.Service, id string) (string, error) {
	ll, _ := ctx.Value(loadersKey{}).(*lazyLoaders)
	if ll == nil {
		m, err := a.PolicyVersionsOf(ctx, []string{id})
		return m[id], err
	}
	ll.policyOnce.Do(func() {
		ll.policy = dataloadgen.NewLoader(func(ctx context.Context, keys []string) ([]string, []error) {
			m, err := a.PolicyVersionsOf(ctx, keys)
			out, errs := make([]string, len(keys)), make([]error, len(keys))
			for i, k := range keys {
				out[i], errs[i] = m[k], err
			}
			return out, errs
		}, dataloadgen.WithWait(time.Millisecond))
	})
	return ll.policy.Load(ctx, id)
}

func loadersFrom(ctx context.Context) *loaders {
	ll, _ := ctx.Value(loadersKey{}).(*lazyLoaders)
	if ll == nil {
		return nil
	}
	ll.once.Do(func() {
		ll.l = &loaders{
			identities: dataloadgen.NewLoader(byKey(ll.adm.IdentitiesOf), dataloadgen.WithWait(time.Millisecond)),
			sessions:   dataloadgen.NewLoader(byKey(ll.adm.LiveSessionsOf), dataloadgen.WithWait(time.Millisecond)),
			moderation: dataloadgen.NewLoader(func(ctx context.Context, keys []string) ([]*models.Moderation, []error) {
				m, err := ll.adm.Moderations(ctx, keys)
				out, errs := make([]*models.Moderation, len(keys)), make([]error, len(keys))
				for i, k := range keys {
					out[i], errs[i] = m[k], err
				}
				return out, errs
			}, dataloadgen.WithWait(time.Millisecond)),
			disabledBy: dataloadgen.NewLoader(func(ctx context.Context, keys []string) ([]*models.Admin, []error) {
				m, err := ll.adm.DisabledByOf(ctx, keys)
				out, errs := make([]*models.Admin, len(keys)), make([]error, len(keys))
				for i, k := range keys {
					out[i], errs[i] = m[k], err
				}
				return out, errs
			}, dataloadgen.WithWait(time.Millisecond)),
		}
	})
	return ll.l
}

// byKey turns a fetch answering a map into what the loader wants: values in
// key order (a user without any gets an empty list), one error for all.
func byKey[V any](fetch func(context.Context, []string) (map[string][]V, error)) func(context.Context, []string) ([][]V, []error) {
	return func(ctx context.Context, keys []string) ([][]V, []error) {
		m, err := fetch(ctx, keys)
		out := make([][]V, len(keys))
		errs := make([]error, len(keys))
		for i, k := range keys {
			out[i], errs[i] = m[k], err
			if out[i] == nil {
				out[i] = []V{}
			}
		}
		return out, errs
	}
}
