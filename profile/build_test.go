package profile

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
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
	vp8x := []byte{0x10, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	var b lsbBits
	alph := append([]byte{0x01}, vp8lPixels(&b, true)...) // lossless, no filter
	mbs := ((w + 15) / 16) * ((h + 15) / 16)
	first := 64 + mbs
	tag := 1<<4 | uint32(first)<<5 // a key frame, shown
	frame := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16), 0x9d, 0x01, 0x2a}
	frame = binary.LittleEndian.AppendUint16(frame, uint16(w))
	frame = binary.LittleEndian.AppendUint16(frame, uint16(h))
	frame = append(frame, make([]byte, first+mbs)...)
	return riff(webpChunk("VP8X", vp8x), webpChunk("ALPH", alph), webpChunk("VP8 ", frame))
}
