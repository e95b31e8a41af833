package deploy

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

type stage struct {
	from, name string
	body       []instruction
}

func readDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages []stage
		cur    strings.Builder
		start  int
	)
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s stage) last(t *testing.T, cmd string) string {
	t.Helper()
	all := s.all(cmd)
	if len(all) == 0 {
		t.Fatalf("Dockerfile: stage %s has no %s", s.from, cmd)
	}
	return all[len(all)-1].args
}

func execForm(t *testing.T, s string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("Dockerfile: %s is not in exec form (a JSON array): %v", s, err)
	}
	return v
}

// dockerfileEnv is the final stage's ENV settings.
func dockerfileEnv(t *testing.T, s stage) map[string]string {
	env := map[string]string{}
	for _, in := range s.all("ENV") {
		for f := range strings.FieldsSeq(in.args) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("Dockerfile:%d: ENV %s: write ENV KEY=value", in.line, in.args)
			}
			env[k] = trimQuotes(v)
		}
	}
	return env
}

func TestDockerfile(t *testing.T) {
	srv := readServer(t)
	stages := readDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, final)", len(stages))
	}
	build, final := stages[0], stages[1]

	// The build stage: go.mod's Go, pinned by tag, a static stripped binary.
	if want := "golang:" + goVersion(t); build.from != want && !strings.HasPrefix(build.from, want+"-") && !strings.HasPrefix(build.from, want+".") {
		t.Errorf("build stage FROM %s, want %s (go.mod's go line) or a variant of that tag", build.from, want)
	}
	var goBuild string
	for _, in := range build.all("RUN") {
		if strings.Contains(in.args, "go build") {
			goBuild = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "-o /out/wxlogin ."} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("build stage's go build lacks %s: %q", want, goBuild)
		}
	}

	// The final stage: distroless static as nonroot, the binary as entrypoint.
	if final.from != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-debian12:nonroot", final.from)
	}
	if u := final.last(t, "USER"); u != "65532:65532" && u != "65532" {
		t.Errorf("USER %s, want 65532 (distroless's nonroot)", u)
	}
	if got := final.last(t, "EXPOSE"); got != strconv.Itoa(srv.port()) {
		t.Errorf("EXPOSE %s, but PORT's default is %d", got, srv.port())
	}
	if got := execForm(t, final.last(t, "ENTRYPOINT")); !slices.Equal(got, []string{"/wxlogin"}) {
		t.Errorf("ENTRYPOINT %v, want [/wxlogin]", got)
	}
	if got := execForm(t, final.last(t, "CMD")); len(got) != 1 || !srv.commands[got[0]] || got[0] != "serve" {
		t.Errorf("CMD %v, want [serve]", got)
	}
	if len(final.all("HEALTHCHECK")) > 0 {
		t.Error("HEALTHCHECK cannot run in distroless (no shell, no curl): compose and Kubernetes probe instead")
	}
	if len(final.all("VOLUME")) > 0 {
		t.Error("VOLUME gives every container an anonymous volume of its own; mount a shared one at AVATAR_DIR instead")
	}
	env := dockerfileEnv(t, final)
	checkEnvNames(t, "Dockerfile", sortedKeys(env), srv)
	if !strings.HasPrefix(env["AVATAR_DIR"], "/") {
		t.Errorf("Dockerfile: ENV AVATAR_DIR=%q: the default .data/avatars is relative to / in the image, which 65532 cannot write", env["AVATAR_DIR"])
	}
	var ownsAvatars bool
	for _, in := range final.all("COPY") {
		if strings.Contains(in.args, "--chown=65532") && strings.HasPrefix(env["AVATAR_DIR"], strings.Fields(in.args)[len(strings.Fields(in.args))-1]) {
			ownsAvatars = true
		}
	}
	if !ownsAvatars {
		t.Errorf("Dockerfile: no COPY --chown=65532 makes %s writable for the server", env["AVATAR_DIR"])
	}
}

// dockerContext is the build context: the files under root that
// .dockerignore leaves, as docker does (moby/patternmatcher).
func dockerContext(t *testing.T) (*patternmatcher.PatternMatcher, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if excluded {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pm, files
}

func TestDockerignore(t *testing.T) {
	pm, files := dockerContext(t)
	for _, p := range []string{".git", ".data/postgres/PG_VERSION", "bin/wxlogin", "examples/miniprogram/node_modules/x/index.js", "docs/screenshots/admin.png",
		// deploy/: its own module, never built into the image; its *.env hold secrets.
		"deploy/go.mod", "deploy/wxlogin.env"} {
		if ok, err := pm.MatchesOrParentMatches(p); err != nil || !ok {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "server.go", "web/web.go", "store/store.go"} {
		if !slices.Contains(files, p) {
			t.Errorf(".dockerignore keeps %s out of the build context, and the build needs it", p)
		}
	}
}

// TestDockerBuild runs the Dockerfile's build step on the build context
// .dockerignore leaves (there may be no Docker here), and checks that the
// binary is static: distroless/static has no libc.
func TestDockerBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server: skipped in -short")
	}
	_, files := dockerContext(t)
	ctxDir := t.TempDir()
	for _, rel := range files {
		if err := copyFile(filepath.Join(root, filepath.FromSlash(rel)), filepath.Join(ctxDir, filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
	build := readDockerfile(t, filepath.Join(root, "Dockerfile"))[0]
	var goBuild string
	for _, in := range build.all("RUN") {
		if strings.Contains(in.args, "go build") {
			goBuild = in.args
		}
	}
	// The go build command itself, with its environment and flags.
	m := regexp.MustCompile(`CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o /out/wxlogin \.`).FindString(goBuild)
	if m == "" {
		t.Fatalf("Dockerfile's go build is not the one this test reproduces: %q", goBuild)
	}
	out := filepath.Join(t.TempDir(), "wxlogin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in the Docker build context failed: %v\n%s", err, b)
	}
	ef, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v): it cannot run on distroless/static", p.Type)
		}
	}
	if ef.Section(".symtab") != nil {
		t.Error("the binary has a symbol table: -ldflags \"-s -w\" did not strip it")
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("static binary: %.1f MiB (the image adds distroless/static's ~2 MiB)", float64(fi.Size())/(1<<20))
	// The binary runs, and knows its subcommands.
	if b, err := exec.Command(out, "help").CombinedOutput(); err != nil || !strings.Contains(string(b), "serve|migrate") {
		t.Errorf("wxlogin help: %v\n%s", err, b)
	}
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
