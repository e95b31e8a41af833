package profile

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// avatarShapes are the kinds of image that cost a decoder the most per
// pixel, each built square at a given side.
var avatarShapes = []struct {
	name  string
	build func(side int, headerOnly bool) []byte
}{
	{"JPEG progressive 4:4:4, 32 scans", func(s int, ho bool) []byte {
		return testJPEG(s, s, []byte{0x11, 0x11, 0x11}, true, maxJPEGScans, ho)
	}},
	{"JPEG progressive 4:2:0, 32 scans", func(s int, ho bool) []byte {
		return testJPEG(s, s, []byte{0x22, 0x11, 0x11}, true, maxJPEGScans, ho)
	}},
	{"JPEG progressive YCCK, 32 scans", func(s int, ho bool) []byte {
		return testJPEG(s, s, []byte{0x11, 0x11, 0x11, 0x11}, true, maxJPEGScans, ho)
	}},
	{"JPEG baseline 4:4:4", func(s int, ho bool) []byte {
		return testJPEG(s, s, []byte{0x11, 0x11, 0x11}, false, 1, ho)
	}},
	{"JPEG baseline 4:2:0", func(s int, ho bool) []byte {
		return testJPEG(s, s, []byte{0x22, 0x11, 0x11}, false, 1, ho)
	}},
	{"PNG 16-bit RGBA", func(s int, ho bool) []byte { return testPNG(s, s, 16, 6, false, ho) }},
	{"PNG 16-bit RGBA interlaced", func(s int, ho bool) []byte { return testPNG(s, s, 16, 6, true, ho) }},
	{"PNG 8-bit RGBA interlaced", func(s int, ho bool) []byte { return testPNG(s, s, 8, 6, true, ho) }},
	{"WebP lossless", func(s int, _ bool) []byte { return testWebPLossless(s, s, false) }},
	{"WebP lossless, 16-colour palette", func(s int, _ bool) []byte { return testWebPLossless(s, s, true) }},
	{"WebP lossy, lossless alpha", func(s int, _ bool) []byte { return testWebPLossyAlpha(s, s) }},
	{"WebP lossless, 288 prefix-code groups", func(s int, _ bool) []byte { return testWebPGroups(s, min(288, ((s+3)/4)*((s+3)/4))) }},
}

// largestAccepted is the largest side at which build's image passes every
// check made before decoding.
func largestAccepted(build func(int, bool) []byte) int {
	lo, hi := 0, MaxAvatarSide // lo is accepted (or 0), hi+1 is not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := inspectAvatar(build(mid, true)); err == nil {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// TestNormalizeAvatar_PeakRSS builds the costliest image of each kind
// that passes the checks, and has a fresh process (this test binary
// again, under the GOMEMLIMIT the deployment sets) re-encode it three
// times: its peak RSS must stay under half the pod's 256 MiB.
func TestNormalizeAvatar_PeakRSS(t *testing.T) {
	if testing.Short() || runtime.GOOS != "linux" || raceEnabled {
		t.Skip("measures the production build (no -race) through /proc, in a few seconds")
	}
	dir := t.TempDir()
	for i, s := range avatarShapes {
		side := largestAccepted(s.build)
		if side < AvatarSide {
			t.Errorf("%s: only %d×%d accepted, less than an avatar", s.name, side, side)
		}
		data := s.build(side, false)
		path := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		before, peak := childRSS(t, path)
		t.Logf("%-34s %4d×%-4d %7d bytes: peak RSS %3d MiB (%d MiB before decoding)", s.name, side, side, len(data), peak>>20, before>>20)
		if peak >= 128<<20 {
			t.Errorf("%s, %d×%d: peak RSS %d MiB, want under 128 MiB", s.name, side, side, peak>>20)
		}
	}
	// A large decode and an ordinary one at once, as the two kinds of
	// decode slot allow: the costliest of each.
	large := avatarShapes[0].build(largestAccepted(avatarShapes[0].build), false)
	small := avatarShapes[0].build(largestWithin(avatarShapes[0].build, largeDecodeBytes), false)
	paths := filepath.Join(dir, "large") + string(os.PathListSeparator) + filepath.Join(dir, "small")
	_ = os.WriteFile(filepath.Join(dir, "large"), large, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "small"), small, 0o600)
	before, peak := childRSS(t, paths)
	t.Logf("%-34s: peak RSS %3d MiB (%d MiB before decoding)", "the largest and an ordinary at once", peak>>20, before>>20)
	if peak >= 128<<20 {
		t.Errorf("a large and an ordinary decode at once: peak RSS %d MiB, want under 128 MiB", peak>>20)
	}
}

// largestWithin is the largest side at which build's image is estimated
// to cost at most limit.
func largestWithin(build func(int, bool) []byte, limit int64) int {
	lo, hi := 0, MaxAvatarSide
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if a, err := inspectAvatar(build(mid, true)); err == nil && a.cost <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// childRSS runs TestAvatarRSSChild on the file at path in a new process
// and returns its peak RSS before and after the decodes.
func childRSS(t *testing.T, path string) (before, peak int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAvatarRSSChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "GOMEMLIMIT=256MiB", "AVATAR_RSS_FILE="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		if _, err := fmt.Sscanf(sc.Text(), "avatar-rss %d %d", &before, &peak); err == nil {
			return before, peak
		}
	}
	t.Fatalf("child said:\n%s", out)
	return 0, 0
}

// TestAvatarRSSChild is TestNormalizeAvatar_PeakRSS's other process: it
// re-encodes the files in AVATAR_RSS_FILE (a path list) three times, all
// at once.
func TestAvatarRSSChild(t *testing.T) {
	path := os.Getenv("AVATAR_RSS_FILE")
	if path == "" {
		t.Skip("run by TestNormalizeAvatar_PeakRSS")
	}
	var files [][]byte
	for _, p := range filepath.SplitList(path) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
	}
	before := vmHWM(t)
	for range 3 {
		var wg sync.WaitGroup
		for _, data := range files {
			wg.Go(func() {
				if _, err := normalizeAvatar(data); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	fmt.Printf("avatar-rss %d %d\n", before, vmHWM(t))
}

// vmHWM is this process's peak resident set size so far, in bytes.
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestDecodeCost_CoversAllocation: for the costliest image of each kind
// that passes the checks, decoding and re-encoding it allocate no more
// than decodeCost estimated, so that maxDecodeBytes bounds what they take.
// (Not parallel: it counts the whole process's allocations.)
func TestDecodeCost_CoversAllocation(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("decodes images of tens of megabytes (too slow with -race)")
	}
	for _, s := range avatarShapes {
		for _, side := range []int{AvatarSide + 1, largestAccepted(s.build)} {
			a, err := inspectAvatar(s.build(side, false))
			if err != nil {
				t.Fatalf("%s %d×%d: %v", s.name, side, side, err)
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			if _, err := a.normalize(context.Background()); err != nil {
				t.Fatalf("%s %d×%d: %v", s.name, side, side, err)
			}
			runtime.ReadMemStats(&m1)
			got := int64(m1.TotalAlloc - m0.TotalAlloc)
			t.Logf("%-34s %4d×%-4d allocated %5.1f MiB, estimated %5.1f MiB", s.name, side, side, float64(got)/(1<<20), float64(a.cost)/(1<<20))
			if got > a.cost {
				t.Errorf("%s %d×%d: allocated %d bytes, more than the %d estimated", s.name, side, side, got, a.cost)
			}
		}
	}
}

// BenchmarkNormalizeAvatar_Costliest times the costliest image of each
// kind that passes the checks: how long a large decode holds its slot.
func BenchmarkNormalizeAvatar_Costliest(b *testing.B) {
	for _, s := range avatarShapes {
		data := s.build(largestAccepted(s.build), false)
		b.Run(strings.NewReplacer(" ", "_", ",", "").Replace(s.name), func(b *testing.B) {
			for b.Loop() {
				if _, err := normalizeAvatar(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
