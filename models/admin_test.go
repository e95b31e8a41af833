package models_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"wxlogin/models"
)

func TestRole_AtLeast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r, min models.Role
		want   bool
	}{
		{models.RoleAdmin, models.RoleAdmin, true},
		{models.RoleAdmin, models.RoleViewer, true},
		{models.RoleViewer, models.RoleViewer, true},
		{models.RoleViewer, models.RoleAdmin, false},
		{"", models.RoleViewer, false},
		{"admin", models.RoleViewer, false},
		{"ROOT", models.RoleViewer, false},
		{models.RoleAdmin, "ROOT", false},
	} {
		if got := tc.r.AtLeast(tc.min); got != tc.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tc.r, tc.min, got, tc.want)
		}
	}
}

func TestRole_GraphQL(t *testing.T) {
	t.Parallel()
	for _, r := range []models.Role{models.RoleAdmin, models.RoleViewer} {
		var buf bytes.Buffer
		r.MarshalGQL(&buf)
		if buf.String() != `"`+string(r)+`"` {
			t.Errorf("%s marshals to %s", r, buf.String())
		}
		var back models.Role
		if err := back.UnmarshalGQL(string(r)); err != nil || back != r {
			t.Errorf("%s: unmarshalled %q, %v", r, back, err)
		}
	}
	for _, bad := range []any{"admin", "ROOT", "", 1, nil} {
		r := models.RoleViewer
		if err := r.UnmarshalGQL(bad); models.ErrorCode(err) != models.CodeBadUserInput || r != models.RoleViewer {
			t.Errorf("%v: role %q, err = %v; want BAD_USER_INPUT and no change", bad, r, err)
		}
	}
}

func TestAdmin_JSONLeavesOutThePasswordHash(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(&models.Admin{ID: "x", Username: "alice", PasswordHash: "$argon2id$SECRET", Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "SECRET") || !strings.Contains(string(b), "alice") {
		t.Fatalf("JSON %s", b)
	}
}
