package e2e_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"wxlogin/app"
	"wxlogin/app/apptest"
)

func TestProfile_Update(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t)
	tok := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "profiler")}).Token
	const m = `mutation($in: ProfileInput!) { updateProfile(input: $in) { nickname gender city province country language } }`
	type user struct{ Nickname, Gender, City, Province, Country, Language *string }
	update := func(in map[string]any) (user, *apptest.Response) {
		t.Helper()
		r := ts.Do(t, tok, m, map[string]any{"in": in})
		var u user
		if r.Data != nil {
			_ = json.Unmarshal(r.Data["updateProfile"], &u)
		}
		return u, r
	}
	u, r := update(map[string]any{"nickname": "  小明 Ming  ", "gender": "MALE", "city": "Shenzhen", "country": "China"})
	if len(r.Errors) > 0 || *u.Nickname != "小明 Ming" || *u.Gender != "MALE" || *u.City != "Shenzhen" {
		t.Fatalf("first update: %s", r.Raw)
	}
	// Only the fields given change; "" clears; null leaves.
	u, r = update(map[string]any{"nickname": "Ming", "city": "", "country": nil})
	if len(r.Errors) > 0 || *u.Nickname != "Ming" || u.City != nil || *u.Gender != "MALE" || *u.Country != "China" {
		t.Fatalf("second update: %s", r.Raw)
	}
	for name, in := range map[string]map[string]any{
		"Empty":       {"nickname": "   "},
		"TooLong":     {"nickname": strings.Repeat("长", 33)},
		"Control":     {"nickname": "a\u0000b"},
		"Bidi":        {"nickname": "evil\u202Egnp.exe"},
		"LongCity":    {"city": strings.Repeat("x", 65)},
		"NewlineCity": {"city": "a\nb"},
		"ZeroWidth":   {"nickname": "ad\u200bmin"},
		"BOM":         {"nickname": "\ufeffadmin"},
		"Blank":       {"nickname": "\u3164"},
		"Braille":     {"nickname": "\u2800\u2800"},
		"LineSep":     {"nickname": "a\u2028b"},
		"Zalgo":       {"nickname": "a\u0301\u0301\u0301\u0301\u0301"},
	} {
		if _, r := update(in); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("%s: %s", name, r.Raw)
		}
	}
	// What real names and emoji need still passes: a family emoji (joined
	// by ZWJ), Vietnamese stacked accents, Thai.
	for _, nick := range []string{"👨\u200d👩\u200d👧 Lê Thị Ngọc Ánh", "ệ̃", "สมชาย"} {
		if u, r := update(map[string]any{"nickname": nick}); len(r.Errors) > 0 || *u.Nickname != nick {
			t.Errorf("nickname %q: %s", nick, r.Raw)
		}
	}
	update(map[string]any{"nickname": "Ming"})
	if u, _ := update(map[string]any{}); *u.Nickname != "Ming" {
		t.Fatalf("the refused updates changed the profile: %+v", u)
	}
	if r := ts.Do(t, "", m, map[string]any{"in": map[string]any{"nickname": "x"}}); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("without a token: %s", r.Raw)
	}
}

func pngOf(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%max(h, 1), color.NRGBA{200, 30, 30, 255})
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func TestProfile_UploadAvatar(t *testing.T) {
	t.Parallel()
	ts := apptest.Start(t, apptest.WithConfig(func(c *app.Config) { c.PublicURL = "https://api.example.com" }))
	tok := ts.MustLogin(t, map[string]any{"code": ts.Code(t, "avatar-owner")}).Token

	// A JPEG carrying EXIF (where a phone puts its GPS position) and a
	// name and type that lie.
	var jb bytes.Buffer
	_ = jpeg.Encode(&jb, image.NewRGBA(image.Rect(0, 0, 1200, 600)), nil)
	exif := append([]byte("\xff\xe1\x00\x1eExif\x00\x00"), []byte("GPS-31.2304N-121.4737E")...)
	withExif := append(append(append([]byte{}, jb.Bytes()[:2]...), exif...), jb.Bytes()[2:]...)

	resp, r := ts.Upload(t, tok, withExif, nil)
	var got struct{ ID, AvatarURL string }
	if resp.StatusCode != 200 || len(r.Errors) > 0 || json.Unmarshal(r.Data["uploadAvatar"], &got) != nil {
		t.Fatalf("upload: %d %s", resp.StatusCode, r.Raw)
	}
	path, ok := strings.CutPrefix(got.AvatarURL, "https://api.example.com/avatars/")
	if !ok || len(path) != 64+4 || !strings.HasSuffix(path, ".jpg") {
		t.Fatalf("avatarUrl = %q", got.AvatarURL)
	}
	img, err := http.Get(ts.URL() + "/avatars/" + path)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(img.Body)
	img.Body.Close()
	h := img.Header
	if img.StatusCode != 200 || h.Get("Content-Type") != "image/jpeg" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(h.Get("Cache-Control"), "immutable") {
		t.Fatalf("GET avatar: %d %v", img.StatusCode, h)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(stored))
	if err != nil || format != "jpeg" || cfg.Width != 640 || cfg.Height != 320 {
		t.Fatalf("stored avatar: %v %s %dx%d", err, format, cfg.Width, cfg.Height)
	}
	if bytes.Contains(stored, []byte("GPS-")) || bytes.Contains(stored, []byte("Exif")) {
		t.Fatal("the stored avatar kept the upload's EXIF")
	}
	if me := ts.Do(t, tok, `{ me { avatarUrl } }`, nil); !strings.Contains(me.Raw, got.AvatarURL) {
		t.Fatalf("me: %s", me.Raw)
	}

	// PNG and WebP are taken too.
	webp, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	for name, file := range map[string][]byte{"PNG": pngOf(50, 40), "WebP": webp} {
		if resp, r := ts.Upload(t, tok, file, nil); resp.StatusCode != 200 || len(r.Errors) > 0 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, r.Raw)
		}
	}

	// Refusals, each before anything is stored.
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	// A tiny PNG whose header claims 5000×5000 pixels (100 MB decoded).
	bomb := pngOf(1, 1)
	binary.BigEndian.PutUint32(bomb[16:], 5000)
	binary.BigEndian.PutUint32(bomb[20:], 5000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	for name, c := range map[string]struct {
		file   []byte
		hdr    map[string]string
		status int
		says   string
	}{
		"GIF":         {gif, nil, 200, "not a PNG, JPEG or WebP"},
		"Text":        {[]byte("<svg onload=alert(1)>"), nil, 200, "not a PNG, JPEG or WebP"},
		"Truncated":   {pngOf(50, 40)[:60], nil, 200, "not a readable png"},
		"Bomb":        {bomb, nil, 200, "4096×4096 pixels"},
		"TooLarge":    {bytes.Repeat([]byte{0xff}, 2<<20+1), nil, 413, "2 MB"},
		"NoPreflight": {pngOf(2, 2), map[string]string{"GraphQL-Require-Preflight": ""}, 400, "GraphQL-Require-Preflight"},
	} {
		resp, r := ts.Upload(t, tok, c.file, c.hdr)
		if resp.StatusCode != c.status || r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Raw, c.says) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, r.Raw)
		}
	}
	// A body cut short is said to be cut short, not too large.
	{
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("operations", `{"query":"mutation($f: Upload!) { uploadAvatar(file: $f) { id } }","variables":{"f":null}}`)
		_ = mw.WriteField("map", `{"0":["variables.f"]}`)
		fw, _ := mw.CreateFormFile("0", "a.png")
		_, _ = fw.Write(pngOf(4, 4)) // and no closing boundary
		req, _ := http.NewRequest("POST", ts.URL()+"/graphql", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("GraphQL-Require-Preflight", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(raw), "ended early") {
			t.Errorf("a truncated upload: %d %s", resp.StatusCode, raw)
		}
	}

	// A JSON body cannot pass a string or an object off as a file.
	for _, f := range []any{"abc", map[string]any{"File": "x"}, 5} {
		r := ts.Do(t, tok, `mutation($f: Upload!) { uploadAvatar(file: $f) { id } }`, map[string]any{"f": f})
		if r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Raw, "multipart") || strings.Contains(r.Raw, "interface") {
			t.Errorf("Upload as %T: %s", f, r.Raw)
		}
	}
	if resp, r := ts.Upload(t, "", pngOf(2, 2), nil); resp.StatusCode != 200 || r.Code() != "UNAUTHENTICATED" {
		t.Errorf("without a token: %d %s", resp.StatusCode, r.Raw)
	}
	if me := ts.Do(t, tok, `{ me { avatarUrl } }`, nil); strings.Contains(me.Raw, got.AvatarURL) {
		t.Fatalf("a refused upload should not have replaced the WebP one: %s", me.Raw)
	}
	for _, p := range []string{"../../etc/passwd", strings.Repeat("0", 64) + ".jpg", "x.jpg"} {
		if resp, err := http.Get(ts.URL() + "/avatars/" + p); err != nil || resp.StatusCode != 404 {
			t.Errorf("GET /avatars/%s: %v %v", p, err, resp.StatusCode)
		}
	}
}
