// Package scalar is how the API's custom scalars cross into Go. gqlgen's
// own functions refuse bad input with an error naming Go types, which the
// error presenter can only call INTERNAL; these say what the client got
// wrong, as BAD_USER_INPUT.
package scalar

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"wxlogin/models"
)

// MarshalTime writes a Time as RFC 3339 with nanoseconds.
func MarshalTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }

// UnmarshalTime reads an RFC 3339 string with its time zone, in years 1 to
// 9999: what PostgreSQL's timestamptz holds and Go formats back.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, models.Errorf(models.CodeBadUserInput, "a Time must be an RFC 3339 string such as 2026-12-01T00:00:00Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, models.Errorf(models.CodeBadUserInput, "a Time must be an RFC 3339 string such as 2026-12-01T00:00:00Z")
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, models.Errorf(models.CodeBadUserInput, "a Time must be within the years 1 to 9999")
	}
	return t, nil
}

// MarshalUpload is never used: no field returns a file.
func MarshalUpload(u graphql.Upload) graphql.Marshaler { return graphql.MarshalUpload(u) }

// UnmarshalUpload takes the file a multipart request put in a variable,
// and refuses anything else (a string, an object) a JSON body put there.
func UnmarshalUpload(v any) (graphql.Upload, error) {
	u, err := graphql.UnmarshalUpload(v)
	if err != nil {
		return graphql.Upload{}, models.Errorf(models.CodeBadUserInput, "a file must be sent as a GraphQL multipart request (Content-Type: multipart/form-data)")
	}
	return u, nil
}
