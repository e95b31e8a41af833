package gqlhttp

import (
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"wxlogin/auth"
	"wxlogin/models"
	"wxlogin/profile"
)

// fastMe answers the request every screen of every mini program sends — a
// `me` query of plain profile fields, without variables, from a caller
// whose session is in the session cache — without gqlgen's executor
// (issue 12: with the cache on, its per-field execution was a third of the
// CPU of such a request, see BENCHMARKS.md).
//
// It never decides anything gqlgen has not decided first. A request takes
// the fast path only when a byte-identical request (the same POST body, or
// the same GET query string) has already gone the whole way — parsed,
// validated, within every limit, executed — and its operation turned out
// to be such a `me` query: that run leaves a plan, keyed by the exact
// bytes, so the same bytes always mean the same document, operation and
// selection. Everything else goes the normal way, and so does any request
// this path cannot finish exactly as gqlgen would: no token, a cache miss
// (the lookup, which may hit PostgreSQL, is the executor's), a user whose
// answer would not be plain data. The answer is byte for byte the
// executor's (the same marshalers, the same envelope); fastme_test.go
// compares the two paths.
//
// What ties it to gqlgen, so that an upgrade or a schema change fails a
// test rather than making the paths differ: the operation learn keeps is
// the one gqlgen's parser and validator produced (the OperationContext's);
// appendString copies graphql.MarshalString's escaping (ID's too) and
// appendTime scalar.MarshalTime's format (fastme_internal_test.go holds
// both to the real ones); the envelope is graphql.Response's JSON with no
// errors or extensions; and meFields assumes the schema's User fields are
// plain scalars and enums without arguments or directives, read from
// models.User except avatarUrl, the one with a resolver in the generated
// graph.UserResolver (fastme_schema_test.go checks this against the schema).
type fastMe struct {
	auth      *auth.Service
	publicURL string
	// apq is the persisted-query store: a plan of a persisted query sent
	// by its hash alone holds only while the store still has the hash.
	apq       boundedAPQ
	post, get planCache
}

// newFastMe returns the fast path, or nil when it must stay off: without
// an auth service there is no cache to answer from, and with tracing on
// every operation must get its span from the executor's extension.
func newFastMe(a *auth.Service, publicURL string, tracing bool, apq boundedAPQ) *fastMe {
	if a == nil || tracing {
		return nil
	}
	return &fastMe{auth: a, publicURL: publicURL, apq: apq}
}

// mePlan is how to answer one `me` document.
type mePlan struct {
	// key is me's response key (its alias, or "me").
	key    []byte
	fields []meField
	// clientName is the operation's name when the log may show it.
	clientName string
	// persisted is the hash of a persisted query sent by its hash alone.
	persisted string
}

// meField is one selected field of User: its response key, pre-quoted, and
// which field it is.
type meField struct {
	key  []byte
	name string
}

// meFields are the User fields a plan may hold: plain data of the cached
// snapshot that any signed-in user may read. The admin-only ones (a
// directive decides them) and the lists (resolvers that read the database)
// are left to the executor.
var meFields = map[string]bool{
	"__typename": true, "id": true, "nickname": true, "avatarUrl": true, "gender": true,
	"city": true, "province": true, "country": true, "language": true, "phone": true,
	"createdAt": true, "lastLoginAt": true,
}

// meRootFields is the log's root fields of every plan; never modified.
var meRootFields = []string{"me"}

// planMe returns the plan for op, or nil when op is anything but a query
// selecting exactly `me { … }` of meFields — each response key once,
// without arguments, directives or fragments.
func planMe(op *ast.OperationDefinition) *mePlan {
	if op == nil || op.Operation != ast.Query || len(op.VariableDefinitions) > 0 ||
		len(op.Directives) > 0 || len(op.SelectionSet) != 1 {
		return nil
	}
	me, ok := op.SelectionSet[0].(*ast.Field)
	if !ok || me.Name != "me" || len(me.Arguments) > 0 || len(me.Directives) > 0 || len(me.SelectionSet) == 0 {
		return nil
	}
	p := &mePlan{key: quoted(me.Alias)}
	if safeOperationName.MatchString(op.Name) {
		p.clientName = op.Name
	}
	seen := map[string]bool{}
	for _, sel := range me.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || !meFields[f.Name] || len(f.Arguments) > 0 || len(f.Directives) > 0 ||
			len(f.SelectionSet) > 0 || seen[f.Alias] {
			return nil
		}
		seen[f.Alias] = true
		p.fields = append(p.fields, meField{key: quoted(f.Alias), name: f.Name})
	}
	return p
}

// quoted is a response key as JSON: names are [_A-Za-z0-9]+, so no escapes.
func quoted(name string) []byte { return []byte(`"` + name + `"`) }

// learn keeps the plan of a request the executor has just answered
// without errors (so a signed-in caller's; anyone else's request would not
// evict others' plans), keyed by its exact bytes: a POST's body, or a
// GET's query string. Requests with variables are never planned (the plan
// would ignore them), and neither are POSTs carrying extensions: a
// persisted query's registration must keep happening in the executor's
// extension, or an evicted hash would never be registered again.
// hashOnly is a persisted query sent by its hash alone.
func (f *fastMe) learn(r *http.Request, body []byte, params *graphql.RawParams, hashOnly bool, op *ast.OperationDefinition) {
	if f == nil || len(params.Variables) > 0 {
		return
	}
	switch {
	case r.Method == http.MethodPost && body != nil && len(params.Extensions) == 0:
		if p := planMe(op); p != nil {
			f.post.put(string(body), p)
		}
	case r.Method != http.MethodPost && (hashOnly || len(params.Extensions) == 0):
		// A document in full, or a persisted one by its hash alone (the
		// hash names exactly one document; a GET carrying both would
		// register it, which the executor must keep doing).
		p := planMe(op)
		if p == nil {
			return
		}
		if hashOnly {
			pq, _ := params.Extensions["persistedQuery"].(map[string]any)
			if p.persisted, _ = pq["sha256Hash"].(string); p.persisted == "" {
				return
			}
		}
		f.get.put(r.URL.RawQuery, p)
	}
}

// lookup returns the plan learned for this request's bytes, or nil.
func (f *fastMe) lookup(r *http.Request, body []byte) *mePlan {
	if f == nil {
		return nil
	}
	if r.Method == http.MethodPost {
		return f.post.getBytes(body)
	}
	return f.get.get(r.URL.RawQuery)
}

// serve answers the request with p when the session cache knows its caller,
// reporting whether it did; when not, nothing has been written.
func (f *fastMe) serve(w http.ResponseWriter, r *http.Request, media string, p *mePlan) bool {
	ctx := r.Context()
	if ctx.Err() != nil {
		return false // the client has gone: the executor's path writes nothing
	}
	if p.persisted != "" {
		// The executor answers PERSISTED_QUERY_NOT_FOUND once the store
		// has let the hash go; looking it up also keeps it recently used.
		if _, ok := f.apq.Get(ctx, p.persisted); !ok {
			return false
		}
	}
	c, ok := f.auth.CachedCaller(ctx)
	if !ok || c.User.CreatedAt.IsZero() {
		return false // a zero createdAt would be the executor's non-null error
	}
	out := p.appendResponse(make([]byte, 0, 96+64*len(p.fields)), c.User, f.publicURL)
	if info := infoFrom(ctx); info != nil {
		info.set(meRootFields, "me", string(ast.Query), p.clientName, true)
		info.finish(ctx, nil)
	}
	w.Header()["Content-Type"] = []string{contentType(media)}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return true
}

// appendResponse appends {"data":{"<me>":{…}}} as the executor and the
// transport would write it: the executor's marshalers (gqlgen's for String
// and ID, ours for Time and Gender) in the selection's order, then what
// encoding/json does to that json.RawMessage in the response (HTML
// characters and U+2028/9 escaped; there is no whitespace to compact).
// Only strings can hold such characters, so appendString does both at once.
func (p *mePlan) appendResponse(b []byte, u *models.User, publicURL string) []byte {
	b = append(b, `{"data":{`...)
	b = append(b, p.key...)
	b = append(b, ":{"...)
	for i, f := range p.fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f.key...)
		b = append(b, ':')
		switch f.name {
		case "__typename":
			b = append(b, `"User"`...)
		case "id":
			b = appendString(b, u.ID)
		case "avatarUrl":
			b = appendOptString(b, profile.AvatarURL(u.AvatarURL, publicURL))
		case "gender":
			if u.Gender == nil {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendQuote(b, u.Gender.String()) // models.Gender.MarshalGQL
			}
		case "nickname", "city", "province", "country", "language", "phone":
			b = appendOptString(b, optionalText(u, f.name))
		case "createdAt":
			b = appendTime(b, u.CreatedAt)
		case "lastLoginAt":
			if u.LastLoginAt == nil {
				b = append(b, "null"...)
			} else {
				b = appendTime(b, *u.LastLoginAt)
			}
		}
	}
	return append(b, "}}}"...)
}

// optionalText returns the nullable String field of User called name.
func optionalText(u *models.User, name string) *string {
	switch name {
	case "nickname":
		return u.Nickname
	case "city":
		return u.City
	case "province":
		return u.Province
	case "country":
		return u.Country
	case "language":
		return u.Language
	case "phone":
		return u.Phone
	}
	return nil // planMe admits no other name here
}

// appendTime is scalar.MarshalTime's text (gqlgen's: RFC 3339 with
// nanoseconds, quoted; null for the zero time), which needs no escaping.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendString quotes s as gqlgen's MarshalString does (\t, \r, \n, \\,
// \" and \u00XX in upper-case hex for other control characters) and then
// escapes what encoding/json escapes in a json.RawMessage (<, >, & and
// U+2028/9, as \u003c in lower-case hex). fastme_internal_test.go holds
// it to the two of them composed.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc string
			switch {
			case c == '\t':
				esc = `\t`
			case c == '\r':
				esc = `\r`
			case c == '\n':
				esc = `\n`
			case c == '\\':
				esc = `\\`
			case c == '"':
				esc = `\"`
			case c == '<':
				esc = `\u003c`
			case c == '>':
				esc = `\u003e`
			case c == '&':
				esc = `\u0026`
			case c < 0x20:
				b = append(append(b, s[start:i]...), '\\', 'u', '0', '0', upperHex[c>>4], upperHex[c&0xf])
				i++
				start = i
				continue
			default:
				i++
				continue
			}
			b = append(append(b, s[start:i]...), esc...)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// upperHex is gqlgen's digits for \u00XX.
const upperHex = "0123456789ABCDEF"

// hexDigits are the lower-case hex digits of a \u202X escape.
const hexDigits = "0123456789abcdef"

// planCache maps request bytes to plans. It is small and bounded: real
// clients send a handful of `me` documents, and a signed-in client sending
// endless variants only evicts plans at random, which costs the others one
// executor run each to learn theirs again.
type planCache struct {
	mu sync.RWMutex
	m  map[string]*mePlan
}

// maxPlans bounds each planCache; maxPlanKey bounds a key (a `me` document
// worth planning is a few hundred bytes).
const (
	maxPlans   = 256
	maxPlanKey = 4 << 10
)

func (c *planCache) get(key string) *mePlan {
	c.mu.RLock()
	p := c.m[key]
	c.mu.RUnlock()
	return p
}

// getBytes is get for a body, without copying it into a string.
func (c *planCache) getBytes(key []byte) *mePlan {
	c.mu.RLock()
	p := c.m[string(key)] // no copy: the compiler converts in place
	c.mu.RUnlock()
	return p
}

func (c *planCache) put(key string, p *mePlan) {
	if len(key) > maxPlanKey {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*mePlan)
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= maxPlans {
		for k := range c.m { // map order: one at random
			delete(c.m, k)
			break
		}
	}
	c.m[key] = p
}
