package token

import (
	"sync"
	"sync/atomic"
)

// Request is one request's bearer token and the caller it resolves to,
// looked up at most once: a query touching the caller in several resolvers
// costs one lookup, and a request that never asks (login) costs none.
type Request[C any] struct {
	token  string
	once   sync.Once
	caller C
	err    error
	ended  atomic.Pointer[error]
}

// NewRequest returns the Request of a bearer token ("" for none).
func NewRequest[C any](tok string) *Request[C] {
	return &Request[C]{token: tok}
}

// Token returns the request's bearer token, "" for none.
func (r *Request[C]) Token() string { return r.token }

// Resolve calls authenticate with the token on the first call and returns
// its result on every call. Safe for the concurrent resolvers of a request.
func (r *Request[C]) Resolve(authenticate func(tok string) (C, error)) (C, error) {
	r.once.Do(func() { r.caller, r.err = authenticate(r.token) })
	if err := r.ended.Load(); err != nil {
		var none C
		return none, *err
	}
	return r.caller, r.err
}

// End makes every later Resolve of this request fail with err: the request
// has ended its own session (a logout), and the fields after that one in
// the same operation must not go on acting as a caller who has signed out.
func (r *Request[C]) End(err error) { r.ended.Store(&err) }
