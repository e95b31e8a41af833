package profile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"math/bits"
	"slices"
)

// The builders below write the costliest images of each kind the decoders
// accept, pixel data all zero so that they stay small: what a decoder
// allocates depends on the header, not on the pixels. headerOnly leaves
// the pixel data out, enough for the checks made before decoding.

// jpegSeg is one JPEG marker segment.
func jpegSeg(m byte, d []byte) []byte {
	return append([]byte{0xFF, m, byte((len(d) + 2) >> 8), byte(len(d) + 2)}, d...)
}

// msbBits writes JPEG entropy-coded bits, most significant first, with
// 0xFF bytes stuffed.
type msbBits struct {
	out   []byte
	acc   uint32
	nBits uint
}

func (b *msbBits) put(v uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		b.acc = b.acc<<1 | v>>uint(i)&1
		if b.nBits++; b.nBits == 8 {
			b.out = append(b.out, byte(b.acc))
			if byte(b.acc) == 0xFF {
				b.out = append(b.out, 0)
			}
			b.acc, b.nBits = 0, 0
		}
	}
}

func (b *msbBits) flush() []byte {
	for b.nBits != 0 {
		b.put(1, 1)
	}
	return b.out
}

// testJPEG is a JPEG of w×h pixels whose components have the sampling
// factors hv (0x11, 0x22…); progressive ones have scans scans (a DC scan
// of every component, then AC scans taking the components in turn).
// Four components carry an Adobe marker (YCCK) so that the decoder
// accepts them.
func testJPEG(w, h int, hv []byte, progressive bool, scans int, headerOnly bool) []byte {
	out := []byte{0xFF, 0xD8}
	if len(hv) == 4 {
		out = append(out, jpegSeg(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x02"))...)
	}
	out = append(out, jpegSeg(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...))...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(len(hv))}
	for i, c := range hv {
		sof = append(sof, byte(i+1), c, 0)
	}
	m, acSymbol := byte(0xC0), byte(0x00) // baseline: every block is DC 0, EOB
	if progressive {
		m, acSymbol = 0xC2, 0xE0 // an AC scan is EOB runs of 32767 blocks
	}
	out = append(out, jpegSeg(m, sof)...)
	// One symbol each, coded by the 1-bit code 0.
	out = append(out, jpegSeg(0xC4, append(append([]byte{0x00, 1}, make([]byte, 15)...), 0x00))...)
	out = append(out, jpegSeg(0xC4, append(append([]byte{0x10, 1}, make([]byte, 15)...), acSymbol))...)
	h0, v0 := int(hv[0]>>4), int(hv[0]&15)
	if len(hv) == 1 {
		h0, v0 = 1, 1
	}
	mxx, myy := (w+8*h0-1)/(8*h0), (h+8*v0-1)/(8*v0)
	blocks := func(c byte) int {
		if len(hv) == 1 {
			return mxx * myy
		}
		return mxx * myy * int(c>>4) * int(c&15)
	}
	sos := []byte{byte(len(hv))}
	all := 0
	for i, c := range hv {
		sos = append(sos, byte(i+1), 0x00)
		all += blocks(c)
	}
	if !progressive {
		out = append(out, jpegSeg(0xDA, append(sos, 0, 63, 0))...)
		if !headerOnly {
			out = append(out, make([]byte, (2*all+7)/8)...)
		}
		return append(out, 0xFF, 0xD9)
	}
	out = append(out, jpegSeg(0xDA, append(sos, 0, 0, 0))...)
	if !headerOnly {
		out = append(out, make([]byte, (all+7)/8)...)
	}
	for i := 1; i < scans; i++ {
		c := (i - 1) % len(hv)
		out = append(out, jpegSeg(0xDA, []byte{1, byte(c + 1), 0x00, 1, 63, 0})...)
		if headerOnly {
			continue
		}
		var b msbBits
		for n := 0; n < blocks(hv[c]); n += 32767 {
			b.put(0, 1)
			b.put(0x3FFF, 14)
		}
		out = append(out, b.flush()...)
	}
	return append(out, 0xFF, 0xD9)
}

// pngChunk is one PNG chunk.
func pngChunk(typ string, d []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(d)))
	out = append(append(out, typ...), d...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), d...)))
}

// testPNG is a PNG of w×h pixels of colour type ct and the given bit
// depth, Adam7-interlaced or not.
func testPNG(w, h int, depth, ct byte, interlaced, headerOnly bool) []byte {
	out := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	il := byte(0)
	if interlaced {
		il = 1
	}
	out = append(out, pngChunk("IHDR", append(ihdr, depth, ct, 0, 0, il))...)
	if !headerOnly {
		channels := map[byte]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ct]
		bits := channels * int(depth)
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		zero := make([]byte, 1+(w*bits+7)/8)
		passes := [][4]int{{0, 0, 8, 8}} // x, y offset; x, y factor
		if interlaced {
			passes = [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
		} else {
			passes[0] = [4]int{0, 0, 1, 1}
		}
		for _, p := range passes {
			pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
			if pw <= 0 || ph <= 0 {
				continue
			}
			for range ph {
				_, _ = zw.Write(zero[:1+(pw*bits+7)/8])
			}
		}
		_ = zw.Close()
		out = append(out, pngChunk("IDAT", z.Bytes())...)
	}
	return append(out, pngChunk("IEND", nil)...)
}

// lsbBits writes a VP8L bit stream, least significant bit first.
type lsbBits struct {
	out   []byte
	acc   uint64
	nBits uint
}

func (b *lsbBits) put(v uint32, n uint) {
	b.acc |= uint64(v) << b.nBits
	for b.nBits += n; b.nBits >= 8; b.nBits -= 8 {
		b.out = append(b.out, byte(b.acc))
		b.acc >>= 8
	}
}

// testWebPLossless is a lossless WebP of w×h pixels, every one of the
// same colour: one-symbol prefix codes take no bits a pixel. With
// indexed, it has a 16-colour palette, which makes the decoder read the
// pixels at half width and widen them into a second buffer.
func testWebPLossless(w, h int, indexed bool) []byte {
	var b lsbBits
	b.put(0x2f, 8)
	b.put(uint32(w-1), 14)
	b.put(uint32(h-1), 14)
	b.put(1, 1) // alpha is used
	b.put(0, 3) // version
	return riff(webpChunk("VP8L", vp8lPixels(&b, indexed)))
}

// vp8lPixels writes, after what b holds, a VP8L image of one colour.
func vp8lPixels(b *lsbBits, indexed bool) []byte {
	codes := func() {
		for range 5 {
			b.put(1, 1) // simple code
			b.put(0, 1) // of one symbol
			b.put(0, 1) // written in 1 bit
			b.put(0, 1) // symbol 0
		}
	}
	if indexed {
		b.put(1, 1)  // a transform:
		b.put(3, 2)  // colour indexing
		b.put(15, 8) // of 16 colours
		b.put(0, 1)  // the palette: no colour cache
		codes()
	}
	b.put(0, 1) // no more transforms
	b.put(0, 1) // no colour cache
	b.put(0, 1) // no meta prefix codes
	codes()
	b.put(0, 7)
	return b.out
}

// webpChunk is one RIFF chunk, padded to an even length.
func webpChunk(typ string, d []byte) []byte {
	out := binary.LittleEndian.AppendUint32([]byte(typ), uint32(len(d)))
	out = append(out, d...)
	if len(d)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

// riff is a WebP file of the given chunks.
func riff(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// testWebPLossyAlpha is a lossy WebP of w×h pixels with an alpha channel
// compressed losslessly (with a palette): the decoder makes a YCbCr
// image, decodes the alpha as a whole NRGBA image and copies its green.
// The lossy frame is all zero bits: every macroblock predicted, with no
// coefficients, which takes less than a byte a macroblock.
func testWebPLossyAlpha(w, h int) []byte {
	var b lsbBits
	return lossyWithAlpha(w, h, append([]byte{0x01}, vp8lPixels(&b, true)...)) // lossless, no filter
}

// lossyWithAlpha is testWebPLossyAlpha's file with the given ALPH chunk.
func lossyWithAlpha(w, h int, alph []byte) []byte {
	vp8x := []byte{0x10, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	mbs := ((w + 15) / 16) * ((h + 15) / 16)
	first := 64 + mbs
	tag := 1<<4 | uint32(first)<<5 // a key frame, shown
	frame := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), 0x9d, 0x01, 0x2a}
	frame = binary.LittleEndian.AppendUint16(frame, uint16(w))
	frame = binary.LittleEndian.AppendUint16(frame, uint16(h))
	frame = append(frame, make([]byte, first+mbs)...)
	return riff(webpChunk("VP8X", vp8x), webpChunk("ALPH", alph), webpChunk("VP8 ", frame))
}

// putCode writes a prefix code's codeword, its highest bit first.
func (b *lsbBits) putCode(code uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		b.put(code>>i&1, 1)
	}
}

// canonicalCodes are the codewords of a canonical prefix code of the
// given code lengths, by symbol.
func canonicalCodes(lengths []int) []uint32 {
	var count [16]uint32
	for _, l := range lengths {
		if l > 0 {
			count[l]++
		}
	}
	var next [16]uint32
	for l, code := 1, uint32(0); l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	codes := make([]uint32, len(lengths))
	for s, l := range lengths {
		if l > 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
	return codes
}

// putLengths writes a prefix code of the given lengths, which are runs
// of one or two lengths from symbol 0 (zeros after the runs are left
// out): one length is written in a few bytes whatever the alphabet,
// with a one-symbol code for the lengths; two are at half a bit a
// symbol, mostly runs of six.
func (b *lsbBits) putLengths(lengths []int) {
	var runs [][2]int // length, count
	for _, l := range lengths {
		if l == 0 {
			break
		}
		if len(runs) > 0 && runs[len(runs)-1][0] == l {
			runs[len(runs)-1][1]++
		} else {
			runs = append(runs, [2]int{l, 1})
		}
	}
	clLengths := make([]int, 19)
	if len(runs) == 1 {
		clLengths[runs[0][0]] = 1
	} else {
		clLengths[16], clLengths[runs[0][0]], clLengths[runs[1][0]] = 1, 2, 2
	}
	nCodes := 0
	for i, s := range []int{17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} {
		if clLengths[s] > 0 {
			nCodes = i + 1
		}
	}
	b.put(0, 1) // not a simple code
	b.put(uint32(nCodes-4), 4)
	for _, s := range []int{17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}[:nCodes] {
		b.put(uint32(clLengths[s]), 3)
	}
	if len(runs) == 1 {
		n := runs[0][1]
		if n == len(lengths) {
			b.put(0, 1) // every symbol: no bits at all
			return
		}
		b.put(1, 1) // a number of symbols
		m := 0
		for n-2 >= 1<<(2+2*m) {
			m++
		}
		b.put(uint32(m), 3)
		b.put(uint32(n-2), uint(2+2*m))
		return
	}
	b.put(0, 1)
	clCodes := canonicalCodes(clLengths)
	for _, r := range runs {
		b.putCode(clCodes[r[0]], clLengths[r[0]])
		for left := r[1] - 1; left > 0; {
			if left < 3 {
				b.putCode(clCodes[r[0]], clLengths[r[0]])
				left--
				continue
			}
			n := min(left, 6)
			b.putCode(clCodes[16], 1)
			b.put(uint32(n-3), 2)
			left -= n
		}
	}
}

// testWebPGroups is a lossless WebP of side×side transparent pixels
// with groups groups of prefix codes of the most symbols the format
// allows (a colour cache of 2,048 entries), each group used by a 4×4
// tile: what takes golang.org/x/image/vp8l the most memory for the
// bytes. side must have at least groups such tiles.
func testWebPGroups(side, groups int) []byte {
	var b lsbBits
	b.put(0x2f, 8)
	b.put(uint32(side-1), 14)
	b.put(uint32(side-1), 14)
	b.put(1, 1)
	b.put(0, 3)
	b.put(0, 1)  // no transforms
	b.put(1, 1)  // a colour cache
	b.put(11, 4) // of 2^11 entries
	b.put(1, 1)  // meta prefix codes
	b.put(0, 3)  // in tiles of 4×4
	// The entropy image: group i in tile i, the rest group 0; an index's
	// high byte is red, its low byte green.
	tiles := (side + 3) / 4
	b.put(0, 1) // no colour cache
	flat8 := slices.Repeat([]int{8}, 256)
	b.putLengths(append(slices.Clone(flat8), make([]int, 24)...))
	b.putLengths(flat8)
	for range 3 { // blue, alpha, distance: symbol 0
		b.put(1, 1)
		b.put(0, 3)
	}
	for i := range tiles * tiles {
		g := 0
		if i < groups {
			g = i
		}
		b.putCode(uint32(g&0xff), 8)
		b.putCode(uint32(g>>8), 8)
	}
	// The groups, all alike: green and lengths 1,768 codes of 11 bits and
	// 560 of 12; red, blue and alpha 256 of 8; distances 24 of 5 and 16
	// of 6.
	green := append(slices.Repeat([]int{11}, 1768), slices.Repeat([]int{12}, 560)...)
	dist := append(slices.Repeat([]int{5}, 24), slices.Repeat([]int{6}, 16)...)
	for range groups {
		b.putLengths(green)
		b.putLengths(flat8)
		b.putLengths(flat8)
		b.putLengths(flat8)
		b.putLengths(dist)
	}
	// The pixels: one transparent black, then copies of the pixel before,
	// 4,096 at a time.
	greenCodes, distCodes := canonicalCodes(green), canonicalCodes(dist)
	b.putCode(greenCodes[0], 11)
	b.put(0, 24) // red, blue, alpha 0
	for left := side*side - 1; left > 0; {
		n := min(left, 4096)
		left -= n
		if v := n - 1; v < 4 {
			b.putCode(greenCodes[256+v], green[256+v])
		} else {
			hb := bits.Len(uint(v)) - 1
			s := 2*hb + v>>(hb-1)&1
			b.putCode(greenCodes[256+s], green[256+s])
			b.put(uint32(v&(1<<(hb-1)-1)), uint(hb-1))
		}
		b.putCode(distCodes[1], dist[1]) // distance code 2: the pixel before
	}
	b.put(0, 7)
	return riff(webpChunk("VP8L", b.out))
}

// hiddenScansJPEG is a progressive side×side grey JPEG of n AC scans,
// each of 14 bytes that make the decoder visit every block (one EOB run
// over the image; side is 8 times a power of two, at most 1024). hide
// puts "\xff\x00" and a length covering them all before the scans: Go's
// decoder skips the two bytes as extraneous data and decodes every scan,
// while a walk that took the pair for a marker skipped the scans as its
// segment.
func hiddenScansJPEG(side, n int, hide bool) []byte {
	r := bits.Len(uint(side/8)) - 1 // an EOB run of 2^(2r) blocks
	out := []byte{0xFF, 0xD8}
	out = append(out, jpegSeg(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...))...)
	out = append(out, jpegSeg(0xC2, []byte{8, byte(side >> 8), byte(side), byte(side >> 8), byte(side), 1, 1, 0x11, 0})...)
	// AC table 3: one 1-bit code, for the EOB run.
	out = append(out, jpegSeg(0xC4, append(append([]byte{0x13, 1}, make([]byte, 15)...), byte(2*r)<<4))...)
	var scans []byte
	for range n {
		var b msbBits
		b.put(0, 1)         // the code
		b.put(0, uint(2*r)) // the run's low bits
		scans = append(scans, jpegSeg(0xDA, []byte{1, 1, 0x03, 1, 63, 0})...)
		scans = append(scans, b.flush()...)
	}
	if hide {
		out = append(out, 0xFF, 0x00, byte((len(scans)+2)>>8), byte(len(scans)+2))
	}
	out = append(out, scans...)
	return append(out, 0xFF, 0xD9)
}

// testWebPTransforms is the header of a lossless WebP of side×side
// pixels (up to the end of its prefix codes) with a predictor and a
// cross-colour transform in tiles of 4×4, the largest transform images
// the format allows: (side/4)² pixels each, written with one-symbol codes
// in no bits at all. With meta, it also has an entropy image as large,
// of one group.
func testWebPTransforms(side int, meta bool) []byte {
	var b lsbBits
	b.put(0x2f, 8)
	b.put(uint32(side-1), 14)
	b.put(uint32(side-1), 14)
	b.put(1, 1)
	b.put(0, 3)
	return riff(webpChunk("VP8L", vp8lTransforms(&b, meta)))
}

// testWebPAlphaTransforms is testWebPTransforms' stream as the lossless
// alpha channel of a lossy WebP.
func testWebPAlphaTransforms(side int, meta bool) []byte {
	b := lsbBits{out: []byte{0x01}} // lossless, no filter
	return lossyWithAlpha(side, side, vp8lTransforms(&b, meta))
}

// vp8lTransforms writes, after what b holds, testWebPTransforms'
// stream.
func vp8lTransforms(b *lsbBits, meta bool) []byte {
	codes := func() {
		for range 5 {
			b.put(1, 1) // simple code
			b.put(0, 1) // of one symbol
			b.put(0, 1) // written in 1 bit
			b.put(0, 1) // symbol 0
		}
	}
	for _, t := range []uint32{0, 1} { // predictor, cross-colour
		b.put(1, 1) // a transform
		b.put(t, 2)
		b.put(0, 3) // in tiles of 4×4
		b.put(0, 1) // its image: no colour cache
		codes()
	}
	if !meta {
		return vp8lPixels(b, false)
	}
	b.put(0, 1) // no more transforms
	b.put(0, 1) // no colour cache
	b.put(1, 1) // meta prefix codes
	b.put(0, 3) // in tiles of 4×4
	b.put(0, 1) // the entropy image: no colour cache
	codes()     // every tile group 0
	codes()     // group 0
	b.put(0, 7)
	return b.out
}
