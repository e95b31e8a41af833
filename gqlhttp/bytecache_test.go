package gqlhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func TestByteCache_Bound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newByteCache(1000, 300, func(k string, v string) int { return len(k) + len(v) })
	for i := range 100 {
		c.Add(ctx, fmt.Sprint("k", i), strings.Repeat("v", 90+i%50))
		if _, used := c.size(); used > 1000 {
			t.Fatalf("after %d adds, %d bytes are held", i+1, used)
		}
	}
	// The most recently used entries stay; a read counts as a use.
	if _, ok := c.Get(ctx, "k99"); !ok {
		t.Fatal("the newest entry was evicted")
	}
	if _, ok := c.Get(ctx, "k0"); ok {
		t.Fatal("the oldest entry was kept")
	}
	c.Add(ctx, "recent", "x")
	_, _ = c.Get(ctx, "recent")
	for i := range 20 {
		c.Add(ctx, fmt.Sprint("more", i), strings.Repeat("v", 40))
		_, _ = c.Get(ctx, "recent")
	}
	if _, ok := c.Get(ctx, "recent"); !ok {
		t.Fatal("an entry read all along was evicted")
	}
	// Over maxEntry: not kept, nothing evicted for it.
	n, used := c.size()
	c.Add(ctx, "huge", strings.Repeat("v", 400))
	if _, ok := c.Get(ctx, "huge"); ok {
		t.Fatal("an entry over maxEntry was kept")
	}
	if n2, used2 := c.size(); n2 != n || used2 != used {
		t.Fatalf("an entry not kept changed the cache: %d/%d -> %d/%d", n, used, n2, used2)
	}
	// Replacing a value recounts its cost.
	c.Add(ctx, "recent", strings.Repeat("v", 200))
	if _, used := c.size(); used > 1000 {
		t.Fatalf("%d bytes after a replacement", used)
	}
}

// TestQueryCache_Cost: a document's cost follows what it holds (text and
// nodes), and the 60 KB documents are not cached at all.
func TestQueryCache_Cost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newQueryCache()
	parse := func(q string) *ast.QueryDocument {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	big := `{ users(filter: {search: "` + strings.Repeat("x", 60000) + `"}) { totalCount } }`
	c.Add(ctx, big, parse(big))
	if _, ok := c.Get(ctx, big); ok {
		t.Fatal("a 60 KB document was cached")
	}
	small := `{ me { id nickname } }`
	c.Add(ctx, small, parse(small))
	if _, ok := c.Get(ctx, small); !ok {
		t.Fatal("a small document was not cached")
	}
	dense := `{ me { ` + strings.Repeat("id ", 300) + `} }`
	if n := walkDocument(parse(dense)).nodes; n != 302 {
		t.Fatalf("docNodes = %d, want 302", n)
	}
	for i := range 2000 {
		q := fmt.Sprintf("query Q%d { me { %s} }", i, strings.Repeat("id ", 300))
		c.Add(ctx, q, parse(q))
	}
	if n, used := c.size(); used > queryCacheBudget || n > queryCacheBudget/(300*astNodeBytes) {
		t.Fatalf("%d documents, %d bytes cached", n, used)
	}
}

// heapAfterGC is the live heap, measured deterministically enough for
// megabyte bounds.
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// floodDocuments sends n distinct valid documents, all refused at the
// resolver (no token), and returns the live heap's growth in bytes.
func floodDocuments(t testing.TB, n int, doc func(i int) string) int64 {
	h := newLimitedHandler(t, Limits{}, false)
	before := heapAfterGC()
	for i := range n {
		b, _ := json.Marshal(map[string]any{"query": doc(i)})
		a, _ := serve(t, h, string(b))
		if a.status != http.StatusOK || a.code() != "UNAUTHENTICATED" {
			t.Fatalf("document %d: HTTP %d %s", i, a.status, a.body)
		}
	}
	grew := heapAfterGC() - before
	runtime.KeepAlive(h)
	return grew
}

// The documents: valid, distinct, each carrying one 60 KB string
// literal; and documents of 150 fields, whose parsed form is about 40
// times their text.
func literalDocument(i int) string {
	return fmt.Sprintf(`query Q%d { me { id } users(filter: {search: "%s"}) { totalCount } }`, i, strings.Repeat("x", 60000))
}

func denseDocument(i int) string {
	return fmt.Sprintf(`query Q%d { me { %s} }`, i, strings.Repeat("id ", 150))
}

// TestQueryCache_Flood: the live heap after 1,200 of the issue's
// documents (issue 17 #7: +112 MiB RSS) or 600 dense ones stays within
// the caches' budgets, whatever the count of documents. (Before: 1,000
// documents of either kind were kept, 60 MB and 22 MB.)
func TestQueryCache_Flood(t *testing.T) {
	const bound = 12 << 20 // the query and complexity caches' 8 and 2 MiB, and slack
	if grew := floodDocuments(t, 1200, literalDocument); grew > bound {
		t.Errorf("1,200 documents of 60 KB grew the heap by %d MiB", grew>>20)
	}
	if grew := floodDocuments(t, 600, denseDocument); grew > bound {
		t.Errorf("600 documents of 150 fields grew the heap by %d MiB", grew>>20)
	}
}

// BenchmarkQueryCache_Flood reports the live heap's growth after the
// issue's flood, for BENCHMARKS.md.
func BenchmarkQueryCache_Flood(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
		doc  func(int) string
	}{{"1200x60KB", 1200, literalDocument}, {"600x150fields", 600, denseDocument}} {
		b.Run(tc.name, func(b *testing.B) {
			var grew int64
			for range b.N {
				grew = floodDocuments(b, tc.n, tc.doc)
			}
			b.ReportMetric(float64(grew)/(1<<20), "heapMiB")
		})
	}
}
