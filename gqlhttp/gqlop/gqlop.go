// Package gqlop describes an answered GraphQL request for those who observe
// them (metrics): a plain value, apart from the GraphQL handler, so that
// telemetry need not import the GraphQL layer.
package gqlop

import "time"

// Operation describes one GraphQL request once it has been answered, for
// gqlhttp.Config.Observe. Every field is from a small fixed set, so it can
// label metrics: nothing in it is chosen freely by the client.
type Operation struct {
	// Name is the operation's root field (e.g. "login"), "multiple" when it
	// selects several, or "invalid" when the request was refused before it
	// ran (it did not parse or validate, or was over a limit). Root fields
	// are the schema's, not the client's operationName.
	Name string
	// Type is query, mutation or subscription; "unknown" for an invalid request.
	Type string
	// Codes are the errors' extensions.code, in order; empty on success.
	Codes    []string
	Duration time.Duration
	// Fast is true when the fast path answered (a planned `me` from the
	// session cache), without gqlgen's executor.
	Fast bool
}

// Outcome is "ok" or the first error's code.
func (o Operation) Outcome() string {
	if len(o.Codes) == 0 {
		return "ok"
	}
	return o.Codes[0]
}

// Names for Operation.Name that are not root fields.
const (
	Invalid  = "invalid"
	Multiple = "multiple"
)
