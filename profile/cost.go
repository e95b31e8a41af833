package profile

import (
	"encoding/binary"
	"math"
)

// maxDecodeBytes bounds what one decode may allocate, as estimated from
// the image's header before decoding. The pixel and side limits alone
// let a 4096×4096 progressive JPEG through, which Go's decoder holds as
// about 250 MB (its coefficients as int32), and a 4096×4096 16-bit PNG
// as 134 MB (268 MB interlaced): more than the pod's 256 Mi from one
// upload. The garbage collector lets the heap grow to twice what is live
// before it collects, so a decode of N bytes right after another one
// costs up to 2N of RSS: with 32 MiB, the server's ~35 MiB at rest, a
// large decode and an ordinary one at once stay within the 128 Mi the
// pod requests. It still takes 4096×4096 baseline JPEGs as phones write
// them, and any other kind of image up to at least 1,300 pixels a side.
const maxDecodeBytes = 32 << 20

// largeDecodeBytes is the estimate above which a decode counts as large
// and waits for the single large-decode slot (see Service.decodes). An
// avatar from WeChat's chooseAvatar, a few hundred pixels a side, costs
// a few megabytes.
const largeDecodeBytes = 12 << 20

// shrinkBytes is about what shrinking and re-encoding cost beyond the
// decoded image: a row of the source as RGBA, the 640×640 result and
// the JPEG encoder's buffers.
const shrinkBytes = 4 << 20

// decodeCost estimates the most that decoding data, an image of w×h
// pixels in format f, and shrinking it allocate. It mirrors what the
// decoders allocate for each layout, rounding up; ok is false when the
// header cannot be read.
func decodeCost(f *imageFormat, data []byte, w, h int) (cost int64, ok bool) {
	px := int64(w) * int64(h)
	switch f {
	case formatJPEG:
		jh, ok := readJPEGHeader(data)
		if !ok || jh.comps == 0 {
			return 0, false
		}
		cost = jh.cost(w, h)
	case formatPNG:
		cost, ok = pngCost(data, px)
		if !ok {
			return 0, false
		}
	case formatWebP:
		cost, ok = webpCost(data, w, h)
		if !ok {
			return 0, false
		}
	default:
		return 0, false
	}
	return cost + int64(4*w) + shrinkBytes, true
}

// pngCost is what Go's image/png allocates for px pixels: the image in
// the type it decodes to (1 byte a pixel for grey and paletted images, 2
// for 16-bit grey, 4 for 8-bit colour or any transparency, 8 for 16-bit
// colour or 16-bit with transparency), twice when interlaced (each of
// the 7 passes is decoded into an image of its own, then copied).
func pngCost(data []byte, px int64) (int64, bool) {
	// IHDR is the first chunk: length, type, then width, height, depth,
	// colour type, compression, filter, interlace.
	if len(data) < 33 || string(data[12:16]) != "IHDR" {
		return 0, false
	}
	depth, ct, interlaced := data[24], data[25], data[28] != 0
	// tRNS, before IDAT, turns grey and truecolour images into NRGBA.
	trns := false
	for i := 8; i+8 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if typ == "IDAT" || typ == "IEND" {
			break
		}
		trns = trns || typ == "tRNS"
		if n > int64(len(data)) {
			break
		}
		i += 12 + int(n)
	}
	var bpp int64
	switch {
	case depth == 16 && ct == 0 && !trns:
		bpp = 2
	case depth == 16:
		bpp = 8
	case ct == 3 || ct == 0 && !trns:
		bpp = 1
	default:
		bpp = 4
	}
	cost := bpp * px
	if interlaced {
		cost *= 2
	}
	return cost, true
}

// webpCost is what golang.org/x/image/webp allocates for a w×h image:
// a lossy one is YCbCr 4:2:0 in whole macroblocks (1.5 bytes a pixel)
// and a copy of its data; a lossless one (or a lossless alpha channel) is
// 4 bytes a pixel, up to 2 more when a palette packs pixels, and the
// transforms' tile images, so 7; an alpha channel is one more byte a
// pixel. A lossless stream adds its prefix-code trees, which only
// reading it tells (see vp8lTrees); ok is false when it cannot be read.
func webpCost(data []byte, w, h int) (int64, bool) {
	px := int64(w) * int64(h)
	mbs := int64((w+15)/16) * int64((h+15)/16)
	lossy := 384*mbs + 16*mbs + 2*int64(len(data))
	const lossless = 7
	// Past pixelBudget, the pixels alone make decodeCost refuse the
	// image: its prefix codes are not read, since reading them takes
	// time and memory (see vp8lTrees) for nothing; and they are read
	// only until they take the rest of it.
	const pixelBudget = maxDecodeBytes - shrinkBytes
	var cost int64
	for i := 12; i+8 <= len(data); {
		n := int64(binary.LittleEndian.Uint32(data[i+4:]))
		body := data[i+8 : i+8+int(min(n, int64(len(data)-i-8)))]
		switch string(data[i : i+4]) {
		case "VP8 ":
			return cost + lossy, true
		case "VP8L":
			if len(body) < 5 {
				return 0, false
			}
			if cost+lossless*px > pixelBudget {
				return cost + lossless*px, true
			}
			trees, ok := vp8lTrees(body[5:], int32(w), int32(h), pixelBudget-cost-lossless*px)
			return cost + lossless*px + trees, ok
		case "ALPH":
			cost = px
			if len(body) > 0 && body[0]&3 == 1 {
				if cost+lossless*px > pixelBudget {
					return cost + lossless*px, true
				}
				trees, ok := vp8lTrees(body[1:], int32(w), int32(h), pixelBudget-cost-lossless*px)
				if !ok {
					return 0, false
				}
				cost += lossless*px + trees
			}
		}
		if n > int64(len(data)) {
			break
		}
		i += 8 + int(n+n&1)
	}
	// No image chunk found: the decoder will refuse it, but count the
	// worst in case it reads what this walk did not.
	return px + lossless*px + lossy + vp8lMaxTrees, true
}

// sideWithin is about the largest side of a square image of the same
// kind whose cost is within maxDecodeBytes, for telling the user what
// would fit.
func sideWithin(cost int64, w, h int) int {
	perPixel := float64(cost-shrinkBytes) / (float64(w) * float64(h))
	side := int(math.Sqrt(float64(maxDecodeBytes-shrinkBytes)/perPixel)) / 16 * 16
	return min(side, MaxAvatarSide)
}
