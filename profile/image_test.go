package profile

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"wxlogin/models"
)

// FuzzNormalizeAvatar feeds hostile bytes to the decoders: an upload is
// refused or re-encoded, never a panic, and what comes out is a JPEG
// within the limits.
func FuzzNormalizeAvatar(f *testing.F) {
	addAvatarSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := normalizeAvatar(data)
		if err != nil {
			if _, ok := err.(errImage); !ok {
				t.Fatalf("not a client error: %v", err)
			}
			return
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(out))
		if err != nil || format != "jpeg" || cfg.Width > AvatarSide || cfg.Height > AvatarSide {
			t.Fatalf("output: %v %s %dx%d", err, format, cfg.Width, cfg.Height)
		}
	})
}

// FuzzInspectAvatar feeds hostile bytes to the checks made before
// decoding, our own parsers among them (JPEG segments, PNG chunks, WebP
// chunks and VP8L prefix codes), many times faster than
// FuzzNormalizeAvatar can: an upload is refused with a client error or
// passes with an estimate within the budget, never a panic.
func FuzzInspectAvatar(f *testing.F) {
	addAvatarSeeds(f)
	f.Add(testWebPTransforms(64, true))
	f.Add(testWebPAlphaTransforms(64, true))
	f.Add(testWebPLossyAlpha(32, 32))
	f.Add(testPNG(16, 16, 16, 6, true, true))
	f.Add(testJPEG(16, 16, []byte{0x22, 0x11, 0x11}, true, 4, true))
	for _, name := range []string{"tux.lossless.webp", "yellow_rose.lossy-with-alpha.webp"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := inspectAvatar(data)
		if err != nil {
			if _, ok := err.(errImage); !ok {
				t.Fatalf("not a client error: %v", err)
			}
			return
		}
		if a.cost > maxDecodeBytes {
			t.Fatalf("passed with a cost of %d", a.cost)
		}
	})
}

// addAvatarSeeds adds the fuzz targets' common seeds: small images of
// each format and the hostile ones the tests build.
func addAvatarSeeds(f *testing.F) {
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2)))
	f.Add(b.Bytes())
	webp, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	f.Add(webp)
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Add(testWebPGroups(8, 4))
	// "\xff\x00" between segments, which Go's decoder skips alone.
	f.Add(hiddenScansJPEG(16, 3, true))
	f.Add([]byte("\xff\xd8\xff\xdb\x00\x43\x00" + strings.Repeat("\x01", 64) + "\xff\x00\xff\xff\x00\xff\xd0\xff\xc2\x00\x0b\x08\x00\x08\x00\x08\x01\x01\x11\x00\xff\x00\x00\x10\xff\xd9"))
	if gopher, err := os.ReadFile("testdata/gopher-doc.skip-hgroup.lossless.webp"); err == nil {
		f.Add(gopher)
	}
}

// scanBomb is a progressive 1024×1024 grey JPEG made of n tiny refinement
// scans, each of which makes a decoder walk all 16384 blocks.
func scanBomb(n int) []byte {
	seg := func(m byte, d []byte) []byte {
		return append([]byte{0xFF, m, byte((len(d) + 2) >> 8), byte(len(d) + 2)}, d...)
	}
	out := []byte{0xFF, 0xD8}
	out = append(out, seg(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...))...)
	out = append(out, seg(0xC2, []byte{8, 4, 0, 4, 0, 1, 1, 0x11, 0})...)
	out = append(out, seg(0xC4, append(append([]byte{0x00, 1}, make([]byte, 15)...), 0x00))...)
	out = append(out, seg(0xC4, append(append([]byte{0x10, 1}, make([]byte, 15)...), 0xE0))...)
	out = append(out, seg(0xDA, []byte{1, 1, 0, 0, 0, 0x01})...)
	out = append(out, make([]byte, 16384/8+1)...)
	scan := append(seg(0xDA, []byte{1, 1, 0, 1, 63, 0x10}), 0x7F, 0xFF, 0x00, 0xFE)
	for range n {
		out = append(out, scan...)
	}
	return append(out, 0xFF, 0xD9)
}

func TestNormalizeAvatar_ScanBombRefused(t *testing.T) {
	t.Parallel()
	if n, ok := jpegScans(scanBomb(500)); !ok || n != 501 {
		t.Fatalf("jpegScans = %d, %v; want 501 scans", n, ok)
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 40, 30)), nil)
	if n, ok := jpegScans(b.Bytes()); !ok || n != 1 {
		t.Fatalf("a baseline JPEG has %d scans (%v), want 1", n, ok)
	}
	if _, err := normalizeAvatar(b.Bytes()); err != nil {
		t.Fatalf("a baseline JPEG: %v", err)
	}
	_, err := normalizeAvatar(scanBomb(500))
	if err == nil || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("a 500-scan JPEG: %v, want refused for its scans", err)
	}
}

// TestNormalizeAvatar_HiddenScansCounted: "\xff\x00" between segments
// is extraneous data to Go's decoder, not a marker with a length: the
// scans after it count. (A 2 MB file of 103,000 scans hidden so took
// 3.5 minutes of CPU.)
func TestNormalizeAvatar_HiddenScansCounted(t *testing.T) {
	t.Parallel()
	data := hiddenScansJPEG(256, 300, true)
	if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("Go's decoder refuses the file, which then tests nothing: %v", err)
	}
	if n, ok := jpegScans(data); !ok || n != 300 {
		t.Fatalf("jpegScans = %d, %v; want 300 scans", n, ok)
	}
	_, err := normalizeAvatar(data)
	if err == nil || !strings.Contains(err.Error(), "300 scans") {
		t.Fatalf("300 hidden scans: %v, want refused for its scans", err)
	}
	if _, err := normalizeAvatar(hiddenScansJPEG(256, maxJPEGScans, true)); err != nil {
		t.Fatalf("%d hidden scans: %v", maxJPEGScans, err)
	}
}

// TestReadJPEGHeader_AsGoDecodes: bytes between a JPEG's segments that
// Go's decoder skips are skipped, and those it refuses are refused
// before decoding.
func TestReadJPEGHeader_AsGoDecodes(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	_ = jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 16, 16)), nil)
	base := b.Bytes()
	sos := bytes.Index(base, []byte{0xFF, 0xDA})
	sof := bytes.Index(base, []byte{0xFF, 0xC0})
	sofSeg := base[sof : sof+2+int(base[sof+2])<<8+int(base[sof+3])]
	for _, c := range []struct {
		name   string
		insert []byte // before the SOS
		ok     bool
	}{
		{"nothing", nil, true},
		{"fill bytes", []byte{0xFF, 0xFF, 0xFF}, true},
		{"extraneous bytes", []byte{0x00, 0x12, 0xFE}, true},
		{"ff00 and a length", []byte{0xFF, 0x00, 0x00, 0x10}, true},
		{"ff00 after extraneous bytes", []byte{0x01, 0xFF, 0x00, 0xFF, 0x00}, true},
		{"RST", []byte{0xFF, 0xD3}, true},
		{"fill bytes then 00", []byte{0xFF, 0xFF, 0x00, 0x00, 0x04}, false},
		{"COM", jpegSeg(0xFE, []byte("hi")), true},
		{"APP15", jpegSeg(0xEF, []byte("x")), true},
		{"unknown marker", jpegSeg(0xC3, nil), false},
		{"reserved marker", jpegSeg(0x02, nil), false},
		{"second SOF", sofSeg, false},
		{"length past the end", []byte{0xFF, 0xFE, 0xFF, 0xF0}, false},
	} {
		data := append(append(append([]byte{}, base[:sos]...), c.insert...), base[sos:]...)
		_, derr := jpeg.Decode(bytes.NewReader(data))
		h, ok := readJPEGHeader(data)
		if ok != c.ok || (derr == nil) != c.ok || ok && h.scans != 1 {
			t.Errorf("%s: walk ok %v with %d scans, Go's decoder %v; want ok %v, 1 scan", c.name, ok, h.scans, derr, c.ok)
		}
	}
	if _, ok := readJPEGHeader(base[:len(base)-2]); ok {
		t.Error("a JPEG without EOI, which Go's decoder refuses, passed")
	}
	many := append(append([]byte{}, base[:sos]...), bytes.Repeat(jpegSeg(0xFE, nil), maxJPEGSegments)...)
	many = append(many, base[sos:]...)
	if _, err := normalizeAvatar(many); err == nil || !strings.Contains(err.Error(), "segments") {
		t.Errorf("%d comments: %v, want refused for its segments", maxJPEGSegments, err)
	}
}

// TestNormalize_StopsAtDeadline: a decode that outlasts its deadline
// stops within a chunk's work (not at the end of the file) with a client
// error, whatever the header checks missed: here, 10,000 scans of
// 1024×1024 pixels given straight to the decoder, 10 s of CPU. A
// decode whose client has left stops too, with ctx's error.
func TestNormalize_StopsAtDeadline(t *testing.T) {
	t.Parallel()
	a := &avatarSource{data: hiddenScansJPEG(1024, 10000, true), format: formatJPEG}
	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_, err := a.normalize(ctx)
	if err != errDecodeTimeout {
		t.Fatalf("err = %v, want %v", err, errDecodeTimeout)
	}
	// Generous, for -race on a busy machine (a chunk takes 30 ms, up to
	// 600 ms with -race): the whole decode takes 50 times the deadline.
	if took := time.Since(start); took > 10*deadline {
		t.Errorf("the decode stopped %v after its start, %v after its deadline", took, took-deadline)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := a.normalize(ctx); err != context.Canceled {
		t.Fatalf("cancelled: err = %v, want %v", err, context.Canceled)
	}
}

// TestSetAvatar_SlowDecodeRefused: an upload whose decode outlasts the
// decode deadline is BAD_USER_INPUT, and its slot is free again.
func TestSetAvatar_SlowDecodeRefused(t *testing.T) {
	t.Parallel()
	s := &Service{decodes: make(chan struct{}, 1), largeDecodes: make(chan struct{}, 1), decodeWait: time.Hour,
		decodeTimeout: time.Millisecond}
	data := testJPEG(1024, 1024, []byte{0x11, 0x11, 0x11}, true, maxJPEGScans, false)
	_, err := s.SetAvatar(context.Background(), "someone", "", bytes.NewReader(data))
	if models.ErrorCode(err) != models.CodeBadUserInput || !strings.Contains(err.Error(), "took too long") {
		t.Fatalf("err = %v, want BAD_USER_INPUT, too long", err)
	}
	if len(s.decodes)+len(s.largeDecodes) != 0 {
		t.Fatal("the decode slot was not released")
	}
}

// TestSetAvatar_DecodesTakeTurns: with every decode slot taken, an upload
// waits, and is refused RATE_LIMITED when its request ends first.
func TestSetAvatar_DecodesTakeTurns(t *testing.T) {
	t.Parallel()
	s := &Service{decodes: make(chan struct{}, 1), decodeWait: time.Hour}
	s.decodes <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2)))
	_, err := s.SetAvatar(ctx, "someone", "", &b)
	if models.ErrorCode(err) != models.CodeRateLimited {
		t.Fatalf("err = %v, want RATE_LIMITED", err)
	}
}

// TestSetAvatar_LargeDecodesApart: while a large decode holds its slot,
// an ordinary avatar gets a slot at once, and a second large one waits
// at most decodeWait, then is refused RATE_LIMITED.
func TestSetAvatar_LargeDecodesApart(t *testing.T) {
	t.Parallel()
	s := &Service{decodes: make(chan struct{}, 1), largeDecodes: make(chan struct{}, 1), decodeWait: 20 * time.Millisecond}
	large, err := inspectAvatar(testJPEG(1200, 1200, []byte{0x11, 0x11, 0x11}, true, maxJPEGScans, true))
	if err != nil || large.cost <= largeDecodeBytes {
		t.Fatalf("a 1200² progressive JPEG: %v, cost %d; want a large decode", err, large.cost)
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 640, 640)), nil)
	small, err := inspectAvatar(b.Bytes())
	if err != nil || small.cost > largeDecodeBytes {
		t.Fatalf("a 640² JPEG: %v, cost %d; want an ordinary decode", err, small.cost)
	}
	ctx := context.Background()
	releaseLarge, err := s.decodeSlot(ctx, large.cost)
	if err != nil {
		t.Fatal(err)
	}
	releaseSmall, err := s.decodeSlot(ctx, small.cost)
	if err != nil {
		t.Fatalf("an ordinary avatar behind a large one: %v", err)
	}
	if _, err := s.decodeSlot(ctx, large.cost); models.ErrorCode(err) != models.CodeRateLimited {
		t.Fatalf("a second large decode: %v, want RATE_LIMITED", err)
	}
	releaseLarge()
	releaseSmall()
	if release, err := s.decodeSlot(ctx, large.cost); err != nil {
		t.Fatalf("after the first was done: %v", err)
	} else {
		release()
	}
}

// TestNormalizeAvatar_TooCostlyRefused: the upload, a 4096²
// progressive 4:4:4 JPEG of 32 scans (107 KB, ~350 MiB to decode), is
// refused before decoding, saying how large such an image may be.
func TestNormalizeAvatar_TooCostlyRefused(t *testing.T) {
	t.Parallel()
	data := testJPEG(4096, 4096, []byte{0x11, 0x11, 0x11}, true, maxJPEGScans, false)
	_, err := normalizeAvatar(data)
	if _, ok := err.(errImage); !ok || !strings.Contains(err.Error(), "too large to process") || !strings.Contains(err.Error(), "1392×1392") {
		t.Fatalf("err = %v, want refused as too large, at most 1392×1392", err)
	}
	t.Log(err)
	for _, side := range []int{AvatarSide, 1392} {
		if _, err := inspectAvatar(testJPEG(side, side, []byte{0x11, 0x11, 0x11}, true, maxJPEGScans, true)); err != nil {
			t.Errorf("%d×%d: %v", side, side, err)
		}
	}
}

func TestAvatarURL(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		stored *string
		public string
		want   *string
	}{
		{nil, "https://api.example.com", nil},
		{s("https://thirdwx.qlogo.cn/mmopen/x/132"), "", s("https://thirdwx.qlogo.cn/mmopen/x/132")},
		{s("/avatars/ab.jpg"), "", s("/avatars/ab.jpg")},
		{s("/avatars/ab.jpg"), "https://api.example.com", s("https://api.example.com/avatars/ab.jpg")},
		{s("javascript:alert(1)"), "https://api.example.com", nil},
		{s("data:image/svg+xml,<svg onload=alert(1)>"), "", nil},
		{s("http://insecure.example/a.png"), "", nil},
	} {
		got := AvatarURL(c.stored, c.public)
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("AvatarURL(%v, %q) = %v, want %v", c.stored, c.public, got, c.want)
		}
	}
}

// TestNormalizeAvatar_HuffmanGroupsRefused: a lossless WebP of 204×204
// pixels, 464 KB, with the 2,600 groups of 2,328-symbol prefix codes the
// decoder allows, took 228 MiB of peak RSS while its pixels were
// estimated at 4 MiB; its codes are now counted, and it is refused.
func TestNormalizeAvatar_HuffmanGroupsRefused(t *testing.T) {
	t.Parallel()
	data := testWebPGroups(204, 2600)
	_, err := inspectAvatar(data)
	if _, ok := err.(errImage); !ok || !strings.Contains(err.Error(), "too large to process") {
		t.Fatalf("err = %v, want refused as too large", err)
	}
	if a, err := inspectAvatar(testWebPGroups(204, 64)); err != nil || a.cost > largeDecodeBytes {
		t.Fatalf("64 groups: %v, want an ordinary decode", err)
	}
	// The codes are read only until they are over the budget: the file
	// cut in half is refused as too large, not as cut short.
	_, err = inspectAvatar(data[:len(data)/2])
	if _, ok := err.(errImage); !ok || !strings.Contains(err.Error(), "too large to process") {
		t.Fatalf("cut in half: err = %v, want refused as too large", err)
	}
}

// inspectAlloc is what inspectAvatar(data) allocates, garbage included.
// (Its callers are not parallel: it counts the whole process's
// allocations.)
func inspectAlloc(data []byte) (int64, *avatarSource, error) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	a, err := inspectAvatar(data)
	runtime.ReadMemStats(&m1)
	return int64(m1.TotalAlloc - m0.TotalAlloc), a, err
}

// TestInspectAvatar_TransformsNotStored: a 4096² lossless WebP, whose
// pixels alone are over maxDecodeBytes, is refused before its transform
// and entropy images are read (three of 1024² pixels took 12 MiB, for a
// refusal); one within the budget has its transform images read without
// storing them (2000²: 2 MiB before).
func TestInspectAvatar_TransformsNotStored(t *testing.T) {
	for _, build := range []func(int, bool) []byte{testWebPTransforms, testWebPAlphaTransforms} {
		for _, meta := range []bool{false, true} {
			got, _, err := inspectAlloc(build(4096, meta))
			t.Logf("4096², entropy image %v: inspecting allocated %d bytes", meta, got)
			if _, ok := err.(errImage); !ok || !strings.Contains(err.Error(), "too large to process") {
				t.Fatalf("4096²: err = %v, want refused as too large", err)
			}
			if got > 256<<10 {
				t.Errorf("4096², entropy image %v: inspecting allocated %d bytes, want under 256 KiB", meta, got)
			}
		}
	}
	got, a, err := inspectAlloc(testWebPTransforms(2000, false))
	t.Logf("2000²: inspecting allocated %d bytes", got)
	if err != nil {
		t.Fatalf("2000²: %v", err)
	}
	if a.cost > maxDecodeBytes {
		t.Fatalf("2000²: cost %d", a.cost)
	}
	if got > 256<<10 {
		t.Errorf("2000²: inspecting allocated %d bytes, want under 256 KiB", got)
	}
	// The entropy image's pixels are needed (they name the groups used);
	// within the budget it is at most a sixteenth of the picture, in
	// bytes a quarter of its pixels.
	got, _, err = inspectAlloc(testWebPTransforms(2000, true))
	t.Logf("2000², entropy image: inspecting allocated %d bytes", got)
	if err != nil {
		t.Fatalf("2000², entropy image: %v", err)
	}
	if got > 2000*2000/4+256<<10 {
		t.Errorf("2000², entropy image: inspecting allocated %d bytes, want under 1.2 MiB", got)
	}
}

// BenchmarkInspectAvatar times the checks made before decoding, which
// run outside the decode slots (see SetAvatar), on the headers that take
// them the longest.
func BenchmarkInspectAvatar(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"WebP_2600_groups_204px_refused", testWebPGroups(204, 2600)},
		{"WebP_transforms_and_entropy_image_2000px", testWebPTransforms(2000, true)},
		{"WebP_transforms_and_entropy_image_4096px_refused", testWebPTransforms(4096, true)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				_, _ = inspectAvatar(c.data)
			}
		})
	}
}

// TestInspectAvatar_PanicRefused: a panic while reading a header (here
// the WebP decoder's DecodeConfig made to panic; no input found by
// FuzzInspectAvatar panics our own parsers) is a file that cannot be
// read, BAD_USER_INPUT, not a crashed request. (Not parallel: it
// replaces formatWebP's DecodeConfig.)
func TestInspectAvatar_PanicRefused(t *testing.T) {
	saved := formatWebP.decodeConfig
	t.Cleanup(func() { formatWebP.decodeConfig = saved })
	formatWebP.decodeConfig = func(io.Reader) (image.Config, error) { panic("hostile bytes") }
	data := testWebPLossless(16, 16, false)
	if _, err := inspectAvatar(data); err == nil || err.Error() != "the file is not a readable webp image" {
		t.Fatalf("err = %v, want not a readable webp image", err)
	}
	s := &Service{decodes: make(chan struct{}, 1), largeDecodes: make(chan struct{}, 1), decodeWait: time.Hour}
	_, err := s.SetAvatar(context.Background(), "someone", "", bytes.NewReader(data))
	if models.ErrorCode(err) != models.CodeBadUserInput || !strings.Contains(err.Error(), "not a readable webp image") {
		t.Fatalf("SetAvatar: err = %v, want BAD_USER_INPUT, not readable", err)
	}
}

// TestWebPCost_RealFiles: lossless WebPs as libwebp writes them (from
// golang.org/x/image's test data: transforms, colour caches, groups the
// tiles do not use, a lossless alpha channel) are read to the end of
// their prefix codes, and decoding one allocates no more than estimated.
// (Not parallel: it counts the whole process's allocations.)
func TestWebPCost_RealFiles(t *testing.T) {
	for _, name := range []string{"tux.lossless.webp", "gopher-doc.skip-hgroup.lossless.webp", "yellow_rose.lossy-with-alpha.webp"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		a, err := inspectAvatar(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		if _, err := a.normalize(context.Background()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.ReadMemStats(&m1)
		if got := int64(m1.TotalAlloc - m0.TotalAlloc); got > a.cost {
			t.Errorf("%s: allocated %d bytes, more than the %d estimated", name, got, a.cost)
		}
	}
}
