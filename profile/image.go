package profile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"time"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Avatar limits. An upload is refused before decoding when its header
// declares more than MaxAvatarSide pixels a side (or MaxAvatarPixels in
// all): a few kilobytes of PNG can claim a picture of gigabytes. Within
// them, the header must also promise a decode of at most maxDecodeBytes
// (see decodeCost): a progressive JPEG or a 16-bit PNG costs several
// times more per pixel than a baseline JPEG.
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
func normalizeAvatar(data []byte) ([]byte, error) {
	src, err := inspectAvatar(data)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), decodeTimeout)
	defer cancel()
	return src.normalize(ctx)
}

// decodeTimeout bounds the time (and so the CPU) of one decode, whatever
// the image's header promised: the checks before decoding count what is
// known to cost (pixels, scans, prefix codes), and this stops what they
// miss. The
// slowest decode they let through takes under 2 s (a 4096² baseline
// JPEG); see normalize for how a decode is stopped.
const decodeTimeout = 5 * time.Second

// errDecodeTimeout is a decode stopped by its deadline.
var errDecodeTimeout = errImage("the image took too long to process; pick a smaller or simpler image")

// decodeChunk is the most a decoder gets from one Read, so that it
// checks its deadline often: one 4 KB read of Go's JPEG decoder can hold
// 290 tiny scans, each a pass over every block, half a second of CPU at
// 2400×2400 pixels; 512 bytes take about 60 ms.
const decodeChunk = 512

// ctxReader reads from r, at most decodeChunk bytes a call, until ctx is
// done; then every Read fails with ctx's error, which the decoders
// return at once: they read as they decode, so they stop within one
// chunk's work.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from r unless ctx is done.
func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > decodeChunk {
		p = p[:decodeChunk]
	}
	return c.r.Read(p)
}

// avatarSource is an upload that passed every check made before decoding.
type avatarSource struct {
	data   []byte
	format *imageFormat
	// cost is what decoding and shrinking it allocate, at most; see
	// decodeCost.
	cost int64
}

// inspectAvatar makes every check that needs no decoding: size, format,
// dimensions, scans, and what decoding would cost in memory.
func inspectAvatar(data []byte) (src *avatarSource, err error) {
	// The header parsers (ours: JPEG segments, PNG chunks, VP8L prefix
	// codes; and the decoders' DecodeConfig) are not expected to panic,
	// but they read hostile bytes: a panic is a file we cannot read, not
	// a failed request.
	defer func() {
		if recover() != nil {
			src, err = nil, errImage("the file is not a readable image")
			if f, ok := sniff(data); ok {
				err = errImage("the file is not a readable " + f.name + " image")
			}
		}
	}()
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
		if jh, ok := readJPEGHeader(data); !ok {
			return nil, errImage("the file is not a readable jpeg image")
		} else if jh.scans > maxJPEGScans {
			return nil, errImage(fmt.Sprintf("the JPEG has %d scans; at most %d are allowed", jh.scans, maxJPEGScans))
		} else if jh.segments > maxJPEGSegments {
			return nil, errImage(fmt.Sprintf("the JPEG has %d segments; at most %d are allowed", jh.segments, maxJPEGSegments))
		}
	}
	cost, ok := decodeCost(f, data, cfg.Width, cfg.Height)
	if !ok {
		return nil, errImage("the file is not a readable " + f.name + " image")
	}
	if cost > maxDecodeBytes {
		s := sideWithin(cost, cfg.Width, cfg.Height)
		return nil, errImage(fmt.Sprintf("the image is too large to process: a %s image stored like this one can be at most about %d×%d pixels; pick a smaller image", f.name, s, s))
	}
	return &avatarSource{data: data, format: f, cost: cost}, nil
}

// normalize decodes the image, shrinks it to at most AvatarSide a side
// and re-encodes it as a JPEG. The decode stops when ctx is done: past
// its deadline (the decode's or the request's) with errDecodeTimeout,
// cancelled with ctx's error (the client has left).
func (a *avatarSource) normalize(ctx context.Context) (out []byte, err error) {
	// The decoders are not expected to panic, but they read hostile bytes.
	defer func() {
		if recover() != nil {
			out, err = nil, errImage("the file is not a readable "+a.format.name+" image")
		}
	}()
	src, err := a.format.decode(&ctxReader{ctx, bytes.NewReader(a.data)})
	if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
		// Whatever the decoder made of the failed Read.
		return nil, errDecodeTimeout
	} else if err != nil {
		return nil, err
	}
	if err != nil {
		return nil, errImage("the file is not a readable " + a.format.name + " image")
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
	dst := shrink(src, w, h)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: avatarQuality}); err != nil {
		return nil, fmt.Errorf("profile: encoding an avatar: %w", err)
	}
	return buf.Bytes(), nil
}

// shrink returns src over white (JPEG has no transparency: what was
// transparent shows white, as on a mini program's usual background),
// scaled down to w×h by averaging the source pixels each destination
// pixel covers. It reads src a row at a time, so it needs memory for a
// row and the result only: draw.CatmullRom, used before, holds a w×(src
// height) buffer of float64 RGBA, 84 MB for a 4096-pixel-high source.
// w and h are at most src's size.
func shrink(src image.Image, w, h int) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	row := image.NewRGBA(image.Rect(0, 0, b.Dx(), 1))
	xs, ys := coverage(b.Dx(), w), coverage(b.Dy(), h)
	line := make([]float32, 3*w) // the last source row read, shrunk to w
	acc := make([]float32, 3*w)
	last := -1
	for dy := range h {
		clear(acc)
		for _, sy := range ys[dy] {
			if sy.i != last {
				last = sy.i
				for i := range row.Pix {
					row.Pix[i] = 0xFF
				}
				draw.Draw(row, row.Rect, src, image.Pt(b.Min.X, b.Min.Y+sy.i), draw.Over)
				for dx, span := range xs {
					var r, g, bl float32
					for _, sx := range span {
						p := row.Pix[4*sx.i : 4*sx.i+3]
						r += sx.w * float32(p[0])
						g += sx.w * float32(p[1])
						bl += sx.w * float32(p[2])
					}
					line[3*dx], line[3*dx+1], line[3*dx+2] = r, g, bl
				}
			}
			for i, v := range line {
				acc[i] += sy.w * v
			}
		}
		px := dst.Pix[dy*dst.Stride:]
		for dx := range w {
			px[4*dx] = toByte(acc[3*dx])
			px[4*dx+1] = toByte(acc[3*dx+1])
			px[4*dx+2] = toByte(acc[3*dx+2])
			px[4*dx+3] = 0xFF
		}
	}
	return dst
}

// share is a source pixel's weight in a destination pixel.
type share struct {
	i int
	w float32
}

// coverage maps each of the n destination pixels along an axis of src
// source pixels (n <= src) to the source pixels it covers, weighted by
// how much of each it covers; the weights of one add up to 1.
func coverage(src, n int) [][]share {
	out := make([][]share, n)
	scale := float64(src) / float64(n)
	for d := range out {
		lo, hi := float64(d)*scale, float64(d+1)*scale
		for s := int(lo); s < src && float64(s) < hi; s++ {
			if w := min(hi, float64(s+1)) - max(lo, float64(s)); w > 0 {
				out[d] = append(out[d], share{s, float32(w / scale)})
			}
		}
	}
	return out
}

// toByte rounds v to a byte.
func toByte(v float32) uint8 {
	return uint8(min(255, max(0, v+0.5)))
}
