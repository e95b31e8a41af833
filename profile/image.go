package profile

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Avatar limits. An upload is refused before decoding when its header
// declares more than MaxAvatarSide pixels a side (or MaxAvatarPixels in
// all): a few kilobytes of PNG can claim a picture of gigabytes.
const (
	MaxAvatarBytes  = 2 << 20
	MaxAvatarSide   = 4096
	MaxAvatarPixels = 4096 * 4096
	// AvatarSide is the most either side of a stored avatar has: a mini
	// program shows avatars at most a few hundred points wide.
	AvatarSide = 640
	// avatarQuality is the JPEG quality of stored avatars.
	avatarQuality = 85
)

// imageFormat is a format we accept, judged by its magic bytes.
type imageFormat struct {
	name         string
	decode       func(io.Reader) (image.Image, error)
	decodeConfig func(io.Reader) (image.Config, error)
}

var (
	formatPNG  = &imageFormat{"png", png.Decode, png.DecodeConfig}
	formatJPEG = &imageFormat{"jpeg", jpeg.Decode, jpeg.DecodeConfig}
	formatWebP = &imageFormat{"webp", webp.Decode, webp.DecodeConfig}
)

// sniff names the format of data by its first bytes, never by a file name
// or a declared content type, which the client chooses freely.
func sniff(data []byte) (*imageFormat, bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return formatPNG, true
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return formatJPEG, true
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return formatWebP, true
	}
	return nil, false
}

// errImage is a client-safe reason an upload is not an avatar.
type errImage string

// Error is the reason, as the client is told it.
func (e errImage) Error() string { return string(e) }

// normalizeAvatar checks that data is a PNG, JPEG or WebP image within the
// limits, and returns it re-encoded as a JPEG of at most AvatarSide a side:
// re-encoding drops every byte the client chose (EXIF with its GPS
// position, comments, trailing data) but the pixels.
func normalizeAvatar(data []byte) (out []byte, err error) {
	if len(data) == 0 {
		return nil, errImage("the file is empty")
	}
	if len(data) > MaxAvatarBytes {
		return nil, errImage("the file is larger than 2 MB")
	}
	f, ok := sniff(data)
	if !ok {
		return nil, errImage("the file is not a PNG, JPEG or WebP image")
	}
	cfg, err := f.decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, errImage("the file is not a readable " + f.name + " image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxAvatarSide || cfg.Height > MaxAvatarSide || cfg.Width*cfg.Height > MaxAvatarPixels {
		return nil, errImage(fmt.Sprintf("the image must be from 1×1 to %d×%d pixels", MaxAvatarSide, MaxAvatarSide))
	}
	if f == formatJPEG {
		if n, ok := jpegScans(data); !ok {
			return nil, errImage("the file is not a readable jpeg image")
		} else if n > maxJPEGScans {
			return nil, errImage(fmt.Sprintf("the JPEG has %d scans; at most %d are allowed", n, maxJPEGScans))
		}
	}
	// The decoders are not expected to panic, but they read hostile bytes.
	defer func() {
		if recover() != nil {
			out, err = nil, errImage("the file is not a readable "+f.name+" image")
		}
	}()
	src, err := f.decode(bytes.NewReader(data))
	if err != nil {
		return nil, errImage("the file is not a readable " + f.name + " image")
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > AvatarSide || h > AvatarSide {
		if w >= h {
			w, h = AvatarSide, max(1, h*AvatarSide/w)
		} else {
			w, h = max(1, w*AvatarSide/h), AvatarSide
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	// JPEG has no transparency: what was transparent shows white, as on a
	// mini program's usual background.
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: avatarQuality}); err != nil {
		return nil, fmt.Errorf("profile: encoding an avatar: %w", err)
	}
	return buf.Bytes(), nil
}
