package wechat

import "log/slog"

// Secret holds an app secret or a session_key. Printing, logging or
// JSON-encoding it shows a placeholder; string(s) is the only way to the value,
// so leaking one takes a deliberate conversion.
type Secret string

const redacted = "[REDACTED]"

// String hides the value from fmt's %s and %v.
func (Secret) String() string { return redacted }

// GoString hides the value from fmt's %#v.
func (Secret) GoString() string { return redacted }

// LogValue hides the value from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON hides the value from encoding/json.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
