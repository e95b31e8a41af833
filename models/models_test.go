package models_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"wxlogin/models"
)

func TestGender_GraphQL(t *testing.T) {
	t.Parallel()
	for g, name := range map[models.Gender]string{models.GenderUnknown: "UNKNOWN", models.GenderMale: "MALE", models.GenderFemale: "FEMALE", 7: "UNKNOWN"} {
		var buf bytes.Buffer
		g.MarshalGQL(&buf)
		if buf.String() != `"`+name+`"` {
			t.Errorf("%d marshals to %s, want %q", g, buf.String(), name)
		}
	}
	var g models.Gender
	if err := g.UnmarshalGQL("FEMALE"); err != nil || g != models.GenderFemale {
		t.Fatalf("got %v, %v", g, err)
	}
	for _, bad := range []any{"female", 2, nil} {
		if err := g.UnmarshalGQL(bad); models.ErrorCode(err) != models.CodeBadUserInput {
			t.Errorf("%v: err = %v, want BAD_USER_INPUT", bad, err)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	cause := errors.New("dial tcp: connection refused")
	wrapped := fmt.Errorf("outer: %w", models.WrapError(cause, models.CodeWechatUnavailable, "retry later"))
	if models.ErrorCode(wrapped) != models.CodeWechatUnavailable || models.ErrorMessage(wrapped) != "retry later" {
		t.Fatalf("code %q message %q", models.ErrorCode(wrapped), models.ErrorMessage(wrapped))
	}
	if !errors.Is(wrapped, cause) {
		t.Fatal("the cause is not reachable for logging")
	}
	if s := models.WrapError(cause, models.CodeInternal, "internal error").Error(); s != "INTERNAL: internal error" {
		t.Fatalf("Error() = %q; it must not print the cause", s)
	}
	if models.ErrorCode(cause) != models.CodeInternal || models.ErrorMessage(cause) != "internal error" {
		t.Fatal("a raw error must read as INTERNAL with a generic message")
	}
	if models.ErrorCode(nil) != "" || models.ErrorMessage(nil) != "" {
		t.Fatal("nil must have no code")
	}
}

// TestDayCount_Day: the API's YYYY-MM-DD is the UTC day the store counted.
func TestDayCount_Day(t *testing.T) {
	d := models.DayCount{Date: time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), Count: 4}
	if got := d.Day(); got != "2026-03-09" {
		t.Fatalf("Day() = %q", got)
	}
}
