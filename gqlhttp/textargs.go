package gqlhttp

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"wxlogin/models"
)

// Every string argument of the schema ends up in a PostgreSQL text column
// or parameter, and PostgreSQL refuses NUL (and invalid UTF-8) in text:
// the query fails, the client got INTERNAL and the log line quoted the
// value (issue 17 #9). No argument has a use for either, so they are
// refused here, once for every field, before anything runs: in the
// document's string literals when it is first checked (checkQuery; a
// cached document has passed), and in every request's variables.

// unstorable reports whether s holds what no text column takes.
func unstorable(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

const unstorableMessage = "holds a NUL character (\\u0000) or invalid UTF-8, which no argument accepts"

func unstorableError(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...) + " " + unstorableMessage,
		Extensions: map[string]any{"code": models.CodeBadUserInput}}
}

// checkVariables refuses variables holding an unstorable string at any
// depth, naming the variable (when its name is a GraphQL name: the client
// chose the JSON key) but never the value.
func checkVariables(vars map[string]any) *gqlerror.Error {
	for name, v := range vars {
		if unstorableValue(v) {
			if safeOperationName.MatchString(name) {
				return unstorableError("variable $%s", name)
			}
			return unstorableError("a variable")
		}
	}
	return nil
}

func unstorableValue(v any) bool {
	switch v := v.(type) {
	case string:
		return unstorable(v)
	case []any:
		for _, e := range v {
			if unstorableValue(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if unstorable(k) || unstorableValue(e) {
				return true
			}
		}
	}
	return false
}
