package profile

import "slices"

// A lossless WebP (or a lossless alpha channel) holds, besides its
// pixels, groups of five prefix codes, and golang.org/x/image/vp8l
// builds a tree for each code of each group the image uses: 8 bytes a
// node, 2n-1 nodes for n symbols, up to 2,328 symbols (280 + a colour
// cache of 2,048), so about 56 KB a group, and it allows 2,600 groups:
// 150 MB whatever the pixel size (204×204 pixels have 2,601 tiles of
// 4×4, one group each). The file bytes do not bound them usefully
// either: a code whose lengths are all equal is written in a few bytes
// whatever its size (a one-symbol code for the code lengths takes no
// bits a symbol), so 75 KB can describe 125 MB of trees. Neither bound
// leaves room for an ordinary lossless avatar, so vp8lTrees reads the
// stream as far as its prefix codes, as the decoder does, and counts
// what they take. Reading it holds little: the transforms' images are
// read without keeping their pixels (only their length in bits
// matters), the entropy image that maps tiles to groups is small (a
// pixel per tile of at least 4×4: at most 1 MiB within
// maxDecodeBytes, which webpCost checks first) and the codes
// themselves take a few hundred bytes each.

// vp8lHGroupBytes is the size of the decoder's hGroup: five trees, each
// a slice header and a 128-entry look-up table of uint32.
const vp8lHGroupBytes = 5 * (24 + 4*128)

// vp8lMaxGroups is the decoder's limit on group indices (libwebp's
// MAX_HUFF_IMAGE_SIZE).
const vp8lMaxGroups = 2600

// vp8lMaxTrees bounds what any stream's prefix codes take: the most
// groups of the largest codes.
const vp8lMaxTrees = vp8lMaxGroups * (60 << 10)

// vp8lAlphabets are the alphabet sizes of a group's five codes (green
// and length, red, blue, alpha, distance); the first grows by the
// colour cache's size.
var vp8lAlphabets = [5]uint32{256 + 24, 256, 256, 256, 40}

// vp8lCodeLengthOrder is the order in which the code lengths of the
// code-length code are written.
var vp8lCodeLengthOrder = [19]uint8{17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// vp8lDistanceMap maps the first 120 LZ77 distance codes to a pixel
// offset: (8 - low nibble) to the right, high nibble rows up.
var vp8lDistanceMap = [120]uint8{
	0x18, 0x07, 0x17, 0x19, 0x28, 0x06, 0x27, 0x29, 0x16, 0x1a,
	0x26, 0x2a, 0x38, 0x05, 0x37, 0x39, 0x15, 0x1b, 0x36, 0x3a,
	0x25, 0x2b, 0x48, 0x04, 0x47, 0x49, 0x14, 0x1c, 0x35, 0x3b,
	0x46, 0x4a, 0x24, 0x2c, 0x58, 0x45, 0x4b, 0x34, 0x3c, 0x03,
	0x57, 0x59, 0x13, 0x1d, 0x56, 0x5a, 0x23, 0x2d, 0x44, 0x4c,
	0x55, 0x5b, 0x33, 0x3d, 0x68, 0x02, 0x67, 0x69, 0x12, 0x1e,
	0x66, 0x6a, 0x22, 0x2e, 0x54, 0x5c, 0x43, 0x4d, 0x65, 0x6b,
	0x32, 0x3e, 0x78, 0x01, 0x77, 0x79, 0x53, 0x5d, 0x11, 0x1f,
	0x64, 0x6c, 0x42, 0x4e, 0x76, 0x7a, 0x21, 0x2f, 0x75, 0x7b,
	0x31, 0x3f, 0x63, 0x6d, 0x52, 0x5e, 0x00, 0x74, 0x7c, 0x41,
	0x4f, 0x10, 0x20, 0x62, 0x6e, 0x30, 0x73, 0x7d, 0x51, 0x5f,
	0x40, 0x72, 0x7e, 0x61, 0x6f, 0x50, 0x71, 0x7f, 0x60, 0x70,
}

// vp8lReader reads a VP8L bit stream, least significant bit first, and
// adds up what the decoder allocates for its prefix codes.
type vp8lReader struct {
	data  []byte
	bits  uint64
	nBits uint32
	// trees is what the decoder allocates for prefix codes so far,
	// garbage included.
	trees int64
	// budget is how much trees may take: past it, reading stops, as the
	// image is refused whatever follows.
	budget int64
	// lengths holds a code's lengths, reused: a stream can have 13,000
	// codes.
	lengths []uint32
}

// read returns the next n (at most 32) bits.
func (d *vp8lReader) read(n uint32) (uint32, bool) {
	for d.nBits < n {
		if len(d.data) == 0 {
			return 0, false
		}
		d.bits |= uint64(d.data[0]) << d.nBits
		d.data = d.data[1:]
		d.nBits += 8
	}
	u := uint32(d.bits & (1<<n - 1))
	d.bits >>= n
	d.nBits -= n
	return u, true
}

// prefixCode is a canonical prefix code, for reading symbols.
type prefixCode struct {
	// symbols are ordered by code length, then value; a code of one
	// symbol takes no bits.
	symbols []uint32
	// count is how many symbols have each code length.
	count [16]uint16
}

// build makes the code of the given code lengths. Like the decoder, it
// refuses a code that is not complete (one symbol aside) or has codes
// longer than 15 bits.
func (c *prefixCode) build(lengths []uint32) bool {
	*c = prefixCode{}
	for s, l := range lengths {
		if l > 15 {
			return false
		}
		if l > 0 {
			c.count[l]++
			c.symbols = append(c.symbols, uint32(s))
		}
	}
	if len(c.symbols) <= 1 {
		return len(c.symbols) == 1
	}
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - int(c.count[l])
		if left < 0 {
			return false
		}
	}
	if left != 0 {
		return false
	}
	slices.SortStableFunc(c.symbols, func(a, b uint32) int { return int(lengths[a]) - int(lengths[b]) })
	return true
}

// next reads a symbol, the first bit read being the code's highest.
func (c *prefixCode) next(d *vp8lReader) (uint32, bool) {
	if len(c.symbols) == 1 {
		return c.symbols[0], true
	}
	code, first, index := 0, 0, 0
	for l := 1; l <= 15; l++ {
		b, ok := d.read(1)
		if !ok {
			return 0, false
		}
		code |= int(b)
		n := int(c.count[l])
		if code-first < n {
			return c.symbols[index+code-first], true
		}
		index += n
		first = (first + n) << 1
		code <<= 1
	}
	return 0, false
}

// allocBytes bounds what the allocator reserves for n bytes: size
// classes waste at most an eighth.
func allocBytes(n int64) int64 { return n + n/8 + 16 }

// vp8lTrees reads a VP8L stream of w×h pixels, after its 5-byte header
// (a lossless alpha channel has none), up to the end of its prefix
// codes and returns what golang.org/x/image/vp8l allocates for them; ok
// is false when the stream is not a readable one. Past budget, it stops
// reading and returns what it counted so far, over budget: 2,600 groups
// of the largest codes take 30–40 ms to read, their first 32 MiB a tenth
// of that.
func vp8lTrees(data []byte, w, h int32, budget int64) (int64, bool) {
	d := &vp8lReader{data: data, budget: budget}
	var seen [4]bool
	for {
		more, ok := d.read(1)
		if !ok {
			return 0, false
		}
		if more == 0 {
			break
		}
		t, ok := d.read(2)
		if !ok || seen[t] {
			return 0, false
		}
		seen[t] = true
		switch t {
		case 0, 1: // predictor, cross-colour: an image of one pixel a tile
			bits, ok := d.read(3)
			if !ok {
				return 0, false
			}
			if _, ok := d.pixels(nTiles(w, bits+2), nTiles(h, bits+2), false, false); !ok {
				return 0, false
			}
		case 3: // colour indexing: a palette, and pixels packed by it
			n, ok := d.read(8)
			if !ok {
				return 0, false
			}
			n++
			switch {
			case n <= 2:
				w = nTiles(w, 3)
			case n <= 4:
				w = nTiles(w, 2)
			case n <= 16:
				w = nTiles(w, 1)
			}
			if _, ok := d.pixels(int32(n), 1, false, false); !ok {
				return 0, false
			}
		}
	}
	if _, ok := d.pixels(w, h, true, false); !ok {
		return 0, false
	}
	return d.trees, true
}

// nTiles is how many tiles of 2^bits pixels cover size pixels.
func nTiles(size int32, bits uint32) int32 { return (size + 1<<bits - 1) >> bits }

// pixels reads an entropy-coded image of w×h pixels, and returns them
// as RGBA bytes when keep (else nil); the top-level image is read only
// up to the end of its prefix codes, since its pixels cost nothing more
// in trees.
func (d *vp8lReader) pixels(w, h int32, top, keep bool) ([]byte, bool) {
	ccBits := uint32(0)
	if cc, ok := d.read(1); !ok {
		return nil, false
	} else if cc != 0 {
		if ccBits, ok = d.read(4); !ok || ccBits < 1 || ccBits > 11 {
			return nil, false
		}
		d.trees += 4 << ccBits
	}
	maxIndex, groups, used := 0, 1, []bool(nil)
	if top {
		meta, ok := d.read(1)
		if !ok {
			return nil, false
		}
		if meta != 0 {
			bits, ok := d.read(3)
			if !ok {
				return nil, false
			}
			tw, th := nTiles(w, bits+2), nTiles(h, bits+2)
			tiles, ok := d.pixels(tw, th, false, true)
			if !ok {
				return nil, false
			}
			for p := 0; p < len(tiles); p += 4 {
				maxIndex = max(maxIndex, int(tiles[p])<<8|int(tiles[p+1]))
			}
			if maxIndex >= vp8lMaxGroups {
				return nil, false
			}
			groups = maxIndex + 1
			// As the decoder does, only groups the tiles use are built
			// when the indices are many or sparse; the others are read
			// and dropped.
			if maxIndex >= 1000 || int32(maxIndex) >= tw*th {
				d.trees += 2 * int64(maxIndex+1)
				used = make([]bool, maxIndex+1)
				groups = 0
				for p := 0; p < len(tiles); p += 4 {
					if i := int(tiles[p])<<8 | int(tiles[p+1]); !used[i] {
						used[i] = true
						groups++
					}
				}
			}
		}
	}
	d.trees += allocBytes(int64(groups) * vp8lHGroupBytes)
	var codes [5]prefixCode
	for i := range maxIndex + 1 {
		if top && d.trees > d.budget {
			return nil, true
		}
		build := used == nil || used[i]
		for j, n := range vp8lAlphabets {
			if j == 0 && ccBits > 0 {
				n += 1 << ccBits
			}
			if !d.code(&codes[j], n, build, !top) {
				return nil, false
			}
		}
	}
	if top {
		return nil, true
	}
	return d.entropyCoded(w, h, ccBits, &codes, keep)
}

// code reads a prefix code of an alphabet of n symbols into c and adds
// what the decoder allocates for it: the code lengths, and when build,
// the canonical codes and the tree. keep is whether c is needed to read
// pixels after.
func (d *vp8lReader) code(c *prefixCode, n uint32, build, keep bool) bool {
	simple, ok := d.read(1)
	if !ok {
		return false
	}
	if simple != 0 {
		var s [3]uint32 // the count less one, the length of the first, the first
		for i, bits := range []uint32{1, 1} {
			if s[i], ok = d.read(bits); !ok {
				return false
			}
		}
		first, ok := d.read(7*s[1] + 1)
		if !ok {
			return false
		}
		symbols := []uint32{first}
		if s[0] == 1 {
			second, ok := d.read(8)
			if !ok {
				return false
			}
			symbols = append(symbols, second)
		}
		if !build {
			return true
		}
		d.trees += allocBytes(8 * int64(2*len(symbols)-1))
		*c = prefixCode{symbols: symbols}
		c.count[len(symbols)-1] = uint16(len(symbols))
		for _, s := range symbols {
			if s >= n {
				return false
			}
		}
		return true
	}
	nCodes, ok := d.read(4)
	if !ok || nCodes+4 > 19 {
		return false
	}
	var clLengths [19]uint32
	for i := range nCodes + 4 {
		if clLengths[vp8lCodeLengthOrder[i]], ok = d.read(3); !ok {
			return false
		}
	}
	var cl prefixCode
	if !cl.build(clLengths[:]) {
		return false
	}
	d.trees += allocBytes(8*(2*19-1)) + allocBytes(4*int64(n))
	if cap(d.lengths) < int(n) {
		d.lengths = make([]uint32, n)
	}
	lengths := d.lengths[:n]
	clear(lengths)
	if !d.codeLengths(lengths, &cl) {
		return false
	}
	if !build {
		return true
	}
	symbols := int64(0)
	for _, l := range lengths {
		if l != 0 {
			symbols++
		}
	}
	d.trees += allocBytes(4*int64(n)) + allocBytes(8*(2*max(symbols, 1)-1))
	if keep {
		return c.build(lengths)
	}
	return true
}

// codeLengths reads the code lengths of a prefix code, coded with cl.
func (d *vp8lReader) codeLengths(dst []uint32, cl *prefixCode) bool {
	maxSymbol := len(dst)
	if use, ok := d.read(1); !ok {
		return false
	} else if use != 0 {
		n, ok := d.read(3)
		if !ok {
			return false
		}
		ms, ok := d.read(2 + 2*n)
		if !ok || int(ms)+2 > len(dst) {
			return false
		}
		maxSymbol = int(ms) + 2
	}
	prev := uint32(8)
	for s := 0; s < len(dst) && maxSymbol > 0; maxSymbol-- {
		l, ok := cl.next(d)
		if !ok {
			return false
		}
		if l < 16 {
			dst[s] = l
			s++
			if l != 0 {
				prev = l
			}
			continue
		}
		bits, offset := [3]uint32{2, 3, 7}[l-16], [3]uint32{3, 3, 11}[l-16]
		repeat, ok := d.read(bits)
		if !ok || s+int(repeat+offset) > len(dst) {
			return false
		}
		v := uint32(0)
		if l == 16 {
			v = prev
		}
		for range repeat + offset {
			dst[s] = v
			s++
		}
	}
	return true
}

// entropyCoded reads the pixels of a w×h image coded with one group of
// prefix codes, with a colour cache of ccBits, and returns them as RGBA
// bytes when keep. Otherwise it only consumes their bits, which do not
// depend on the pixels' values (a copy or a cache entry is a count of
// pixels): a transform's image can be a sixteenth of the picture's
// pixels, 4 MiB for a 4096² one.
func (d *vp8lReader) entropyCoded(w, h int32, ccBits uint32, codes *[5]prefixCode, keep bool) ([]byte, bool) {
	size := 4 * int(w) * int(h)
	if !keep && len(codes[0].symbols) == 1 && codes[0].symbols[0] < 256 &&
		len(codes[1].symbols) == 1 && len(codes[2].symbols) == 1 && len(codes[3].symbols) == 1 {
		// Every pixel is the same literal, in no bits.
		return nil, true
	}
	var pix []byte
	var cache []uint32
	if keep {
		pix = make([]byte, size)
		if ccBits > 0 {
			cache = make([]uint32, 1<<ccBits)
		}
	}
	p, cached := 0, 0
	for p < size {
		green, ok := codes[0].next(d)
		if !ok {
			return nil, false
		}
		switch {
		case green < 256:
			var rba [3]uint32
			for i := range rba {
				if rba[i], ok = codes[i+1].next(d); !ok {
					return nil, false
				}
			}
			if keep {
				pix[p], pix[p+1], pix[p+2], pix[p+3] = byte(rba[0]), byte(green), byte(rba[1]), byte(rba[2])
			}
			p += 4
		case green < 256+24:
			length, ok := d.lz77(green - 256)
			if !ok {
				return nil, false
			}
			sym, ok := codes[4].next(d)
			if !ok {
				return nil, false
			}
			code, ok := d.lz77(sym)
			if !ok {
				return nil, false
			}
			dist := int(code) - len(vp8lDistanceMap)
			if code <= uint32(len(vp8lDistanceMap)) {
				c := int(vp8lDistanceMap[code-1])
				dist = max(1, c>>4*int(w)+8-c&0xf)
			}
			end, q := p+4*int(length), p-4*dist
			if q < 0 || end > size {
				return nil, false
			}
			if !keep {
				p = end
				continue
			}
			for ; p < end; p, q = p+1, q+1 {
				pix[p] = pix[q]
			}
		default:
			i := int(green - 256 - 24)
			if ccBits == 0 || i >= 1<<ccBits {
				return nil, false
			}
			if !keep {
				p += 4
				continue
			}
			for ; cached < p; cached += 4 {
				argb := uint32(pix[cached])<<16 | uint32(pix[cached+1])<<8 | uint32(pix[cached+2]) | uint32(pix[cached+3])<<24
				cache[(argb*0x1e35a7bd)>>(32-ccBits)] = argb
			}
			argb := cache[i]
			pix[p], pix[p+1], pix[p+2], pix[p+3] = byte(argb>>16), byte(argb>>8), byte(argb), byte(argb>>24)
			p += 4
		}
	}
	return pix, true
}

// lz77 reads an LZ77 length or distance whose prefix is symbol.
func (d *vp8lReader) lz77(symbol uint32) (uint32, bool) {
	if symbol < 4 {
		return symbol + 1, true
	}
	extra := (symbol - 2) >> 1
	n, ok := d.read(extra)
	return (2+symbol&1)<<extra + n + 1, ok
}
