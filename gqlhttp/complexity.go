package gqlhttp

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// cachedComplexityLimit is gqlgen's extension.FixedComplexityLimit (same
// name, statistics, error and code) that remembers the complexity of
// operations without variables. pprof showed the stock one walking the
// document on every request, though for a document and operation name
// without variables the answer cannot change: the cost functions
// (setCosts) read only the field arguments, which are then literals in the
// document. With variables it computes every time, as before. The cache is
// bounded by bytes like the query cache; a document too long for it is
// measured every time.
type cachedComplexityLimit struct {
	limit int
	es    graphql.ExecutableSchema
	known *byteCache[int]
}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = &cachedComplexityLimit{}

func newCachedComplexityLimit(limit int) *cachedComplexityLimit {
	// Keyed by the document, so bounded by bytes like the query cache (a
	// key with an operation name is a copy of the document).
	return &cachedComplexityLimit{limit: limit, known: newByteCache(complexityCacheBudget, maxCachedQuery+entryOverhead+256,
		func(key string, _ int) int { return len(key) + entryOverhead })}
}

func (*cachedComplexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c *cachedComplexityLimit) Validate(schema graphql.ExecutableSchema) error {
	if schema == nil {
		return errors.New("ComplexityLimit needs a schema")
	}
	c.es = schema
	return nil
}

func (c *cachedComplexityLimit) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	cost, cached := 0, false
	var key string
	if len(opCtx.Variables) == 0 {
		// A parsed document holds no NUL, so the two forms cannot collide.
		key = opCtx.RawQuery
		if opCtx.OperationName != "" {
			key = opCtx.OperationName + "\x00" + key
		}
		cost, cached = c.known.Get(ctx, key)
	}
	if !cached {
		cost = complexity.Calculate(ctx, c.es, opCtx.Doc.Operations.ForName(opCtx.OperationName), opCtx.Variables)
		if key != "" {
			c.known.Add(ctx, key, cost)
		}
	}
	opCtx.Stats.SetExtension("ComplexityLimit", &extension.ComplexityStats{Complexity: cost, ComplexityLimit: c.limit})
	if cost > c.limit {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", cost, c.limit)
		errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
		return err
	}
	return nil
}
