package app

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// configDoc is the reference operators read for every setting.
const configDoc = "../docs/configuration.md"

// docSetting is one setting as a row of the configuration doc, or as the
// server's usage text declares it.
type docSetting struct {
	env, flag, def string
}

// serverSettings lists every setting the server reads: Settings, the one
// table parsing, the usage text and DefaultConfig all come from.
func serverSettings(t *testing.T) map[string]docSetting {
	t.Helper()
	settings := map[string]docSetting{}
	for _, s := range Settings() {
		settings[s.Env] = docSetting{env: s.Env, flag: s.Flag, def: s.Default}
	}
	if _, ok := settings["DATABASE_URL"]; !ok || len(settings) < 40 {
		t.Fatalf("Settings() has %d settings, without DATABASE_URL", len(settings))
	}
	return settings
}

// docSettings reads the settings table of the configuration doc: a row names
// one or more variables, as many flags ("—" for a setting that is not ours
// but OpenTelemetry's), and its default in backquotes when it has one.
func docSettings(t *testing.T, doc string) (ours map[string]docSetting, otel []string) {
	t.Helper()
	ours = map[string]docSetting{}
	code := regexp.MustCompile("`([^`]*)`")
	inTable := false
	for n, row := range strings.Split(doc, "\n") {
		if strings.HasPrefix(row, "| variable | flag | default | meaning |") {
			inTable = true
			continue
		}
		if !inTable || strings.HasPrefix(row, "|---") {
			continue
		}
		if !strings.HasPrefix(row, "|") {
			break
		}
		cells := strings.Split(row, " | ")
		if len(cells) < 4 {
			t.Fatalf("%s:%d: a row without four cells: %s", configDoc, n+1, row)
		}
		var envs, flags, defs []string
		for _, m := range code.FindAllStringSubmatch(cells[0], -1) {
			envs = append(envs, m[1])
		}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			flags = append(flags, m[1])
		}
		for _, m := range code.FindAllStringSubmatch(cells[2], -1) {
			defs = append(defs, m[1])
		}
		if len(envs) == 0 {
			t.Fatalf("%s:%d: a row that names no variable: %s", configDoc, n+1, row)
		}
		if strings.TrimSpace(cells[1]) == "—" {
			otel = append(otel, envs...)
			continue
		}
		if len(flags) != len(envs) {
			t.Errorf("%s:%d: %d variables but %d flags: %s", configDoc, n+1, len(envs), len(flags), row)
			continue
		}
		for i, env := range envs {
			s := docSetting{env: env, flag: strings.TrimPrefix(flags[i], "-")}
			if len(envs) > 1 && len(defs) == len(envs) {
				s.def = defs[i]
			} else {
				s.def = strings.Join(defs, "\x00") // any of them
			}
			if _, dup := ours[env]; dup {
				t.Errorf("%s:%d: %s has two rows", configDoc, n+1, env)
			}
			ours[env] = s
		}
	}
	if len(ours) == 0 {
		t.Fatalf("%s: no settings table (a header | variable | flag | default | meaning |)", configDoc)
	}
	return ours, otel
}

// The configuration doc and the server agree: every setting the server
// reads has its row, with its flag and default, and every row is a setting
// the server reads, so neither can drift from the other.
func TestConfigDoc_ListsEverySettingTheServerReads(t *testing.T) {
	doc, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	server := serverSettings(t)
	documented, otel := docSettings(t, string(doc))

	for env, s := range server {
		d, ok := documented[env]
		if !ok {
			t.Errorf("the server reads %s (-%s), which %s's settings table does not list", env, s.flag, configDoc)
			continue
		}
		if d.flag != s.flag {
			t.Errorf("%s: %s names the flag -%s, the server -%s", env, configDoc, d.flag, s.flag)
		}
		if s.def != "" && !containsDefault(d.def, s.def) {
			t.Errorf("%s: the server's default is %q, which %s's default column does not name in backquotes", env, s.def, configDoc)
		}
	}
	for env := range documented {
		if _, ok := server[env]; !ok {
			t.Errorf("%s lists %s, which the server does not read", configDoc, env)
		}
	}

	// The flagless rows are OpenTelemetry's variables, which the telemetry
	// package reads (the SDK reads the rest of OTEL_*).
	tracing, err := os.ReadFile("../telemetry/tracing.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(otel) == 0 {
		t.Errorf("%s: no OpenTelemetry row", configDoc)
	}
	for _, env := range otel {
		if !strings.HasPrefix(env, "OTEL_") || !bytes.Contains(tracing, []byte(`"`+env+`"`)) {
			t.Errorf("%s lists %s without a flag: only the OTEL_ variables telemetry/tracing.go reads may have none", configDoc, env)
		}
	}
}

// containsDefault reports whether the doc's default (one value, or several
// separated by NUL, any of which may be it) names want.
func containsDefault(doc, want string) bool {
	for _, d := range strings.Split(doc, "\x00") {
		if d == want {
			return true
		}
	}
	return false
}
