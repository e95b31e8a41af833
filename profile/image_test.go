package profile

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"testing"
)

// FuzzNormalizeAvatar feeds hostile bytes to the decoders: an upload is
// refused or re-encoded, never a panic, and what comes out is a JPEG
// within the limits.
func FuzzNormalizeAvatar(f *testing.F) {
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2)))
	f.Add(b.Bytes())
	webp, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	f.Add(webp)
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
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
