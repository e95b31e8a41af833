package admin

import (
	"context"
	"fmt"
	"net"
	"testing"

	"wxlogin/models"
)

// timeoutError is a net.Error that timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// A dial that timed out is the database being down, not admin load: it
// stays INTERNAL (logged), while a query cut by its deadline is
// QUERY_TIMEOUT.
func TestInternal_DialIsNotQueryTimeout(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("store: %w", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{}}), models.CodeInternal},
		{fmt.Errorf("store: %w", &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}), models.CodeQueryTimeout},
		{fmt.Errorf("store: %w", context.DeadlineExceeded), models.CodeQueryTimeout},
		{fmt.Errorf("store: something else"), models.CodeInternal},
	} {
		if got := models.ErrorCode(internal(c.err)); got != c.want {
			t.Errorf("internal(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}
