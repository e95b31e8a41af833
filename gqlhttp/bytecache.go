package gqlhttp

import (
	"container/list"
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// byteCache is a least-recently-used cache bounded by bytes, not entries.
// gqlgen's lru counts entries, and anyone may fill the query cache: 1,200
// distinct valid documents of 60 KB each (all answered UNAUTHENTICATED)
// took the process from 29 to 141 MiB (issue 17 #7). Here each entry costs
// what cost says it holds, the total stays within budget, and an entry
// costing more than maxEntry is not kept at all (the caller just does the
// work again, as for any miss).
type byteCache[T any] struct {
	mu       sync.Mutex
	budget   int
	maxEntry int
	cost     func(key string, v T) int
	used     int
	order    *list.List // of *byteEntry[T], most recently used first
	items    map[string]*list.Element
}

type byteEntry[T any] struct {
	key   string
	value T
	cost  int
}

var _ graphql.Cache[*ast.QueryDocument] = (*byteCache[*ast.QueryDocument])(nil)

func newByteCache[T any](budget, maxEntry int, cost func(key string, v T) int) *byteCache[T] {
	return &byteCache[T]{budget: budget, maxEntry: maxEntry, cost: cost, order: list.New(), items: map[string]*list.Element{}}
}

// Get returns the value of key and marks it recently used.
func (c *byteCache[T]) Get(_ context.Context, key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*byteEntry[T]).value, true
	}
	var zero T
	return zero, false
}

// Add keeps value under key unless it costs more than maxEntry, evicting
// the least recently used entries until the total is within budget.
func (c *byteCache[T]) Add(_ context.Context, key string, value T) {
	cost := c.cost(key, value)
	if cost > c.maxEntry {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		old := e.Value.(*byteEntry[T])
		c.used += cost - old.cost
		old.value, old.cost = value, cost
		c.order.MoveToFront(e)
	} else {
		c.items[key] = c.order.PushFront(&byteEntry[T]{key: key, value: value, cost: cost})
		c.used += cost
	}
	for c.used > c.budget {
		last := c.order.Back()
		ent := last.Value.(*byteEntry[T])
		c.order.Remove(last)
		delete(c.items, ent.key)
		c.used -= ent.cost
	}
}

// size returns the number of entries and their total cost.
func (c *byteCache[T]) size() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used
}

// The caches' bounds. A parsed document costs its text (the AST's strings
// are slices of it) plus about 200–250 bytes per node (measured with
// gqlparser: a 5.7 KB document of 1,900 fields parses to 430 KB, a 60 KB
// document of one string literal to 1.4 KB besides the text); astNodeBytes
// rounds that up. The largest document the dashboard sends is under 2 KiB
// (about 30 KiB by this count), a mini program's a few hundred bytes.
const (
	queryCacheBudget = 8 << 20
	// maxCachedQuery bounds the text of a cached document: a longer one is
	// parsed and validated on every request, as it was the first time.
	maxCachedQuery = 8 << 10
	// maxCachedDocument bounds one cached document's estimated cost: a
	// short document of thousands of tokens would otherwise cost much more
	// than its text.
	maxCachedDocument = 512 << 10
	astNodeBytes      = 256
	// complexityCacheBudget and apqBudget bound the complexity cache (its
	// keys are documents) and the persisted queries' store.
	complexityCacheBudget = 2 << 20
	apqBudget             = 4 << 20
	// entryOverhead is a map entry, a list element and an entry.
	entryOverhead = 128
)

// newQueryCache is the parsed-document cache gqlgen's executor uses.
func newQueryCache() *byteCache[*ast.QueryDocument] {
	return newByteCache(queryCacheBudget, maxCachedDocument, func(query string, doc *ast.QueryDocument) int {
		if len(query) > maxCachedQuery {
			return maxCachedDocument + 1
		}
		return len(query) + entryOverhead + astNodeBytes*walkDocument(doc).nodes
	})
}
