package web

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"wxlogin/models"
)

// TestAuditActions_HoldToTheCode: models.AuditActions — what the
// auditActions query answers and the audit screen's action filter offers —
// is exactly the actions the server writes (found in its code and
// migrations as serverActions finds them, the list itself aside), once
// each, and docs/admin.md's table of actions names every one.
func TestAuditActions_HoldToTheCode(t *testing.T) {
	t.Parallel()
	written := map[string]string{}
	for p, src := range repoFiles(t, ".go") {
		if filepath.ToSlash(p) == "../models/auditactions.go" {
			continue // the list itself
		}
		for i, line := range strings.Split(src, "\n") {
			for _, m := range goAction.FindAllStringSubmatch(line, -1) {
				prefix := m[1][:strings.IndexByte(m[1], '.')]
				if prefix == "user" || prefix == "admin" || prefix == "session" || strings.Contains(strings.ToLower(line), "action") {
					written[m[1]] = p + ":" + strconv.Itoa(i+1)
				}
			}
		}
	}
	for p, src := range repoFiles(t, ".sql") {
		if strings.Contains(p, "migrations") {
			for _, m := range sqlAction.FindAllStringSubmatch(src, -1) {
				written[m[1]] = p
			}
		}
	}
	if written["user.login"] == "" || written["user.bind_phone"] == "" || written["user.merge"] == "" {
		t.Fatalf("the scan found %d actions, not user.login, user.bind_phone and user.merge: is it broken?", len(written))
	}
	doc, err := os.ReadFile("../docs/admin.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, a := range models.AuditActions {
		if listed[a.Name] {
			t.Errorf("models.AuditActions lists %s twice", a.Name)
		}
		listed[a.Name] = true
		if written[a.Name] == "" {
			t.Errorf("models.AuditActions lists %s, which no code writes: drop it", a.Name)
		}
		if !strings.Contains(string(doc), "`"+a.Name+"`") {
			t.Errorf("docs/admin.md's audit log table does not name %s", a.Name)
		}
	}
	for a, where := range written {
		if !listed[a] {
			t.Errorf("the server writes the audit action %s (%s): add it to models.AuditActions, with what its target names", a, where)
		}
	}
}
