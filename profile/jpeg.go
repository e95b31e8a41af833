package profile

// maxJPEGScans bounds a JPEG's scans. Each scan of a progressive JPEG makes
// the decoder visit every block of the image, whatever the scan's size: a
// few kilobytes of 30-byte scans cost minutes of CPU, and a decode cannot
// be cancelled. Encoders write 1 scan (baseline) or about 10 (libjpeg's
// progressive script).
const maxJPEGScans = 32

// jpegHeader is what the segments of a JPEG say about its decoding cost.
type jpegHeader struct {
	// scans and segments count the SOS segments and all the segments
	// (markers with a length) that the decoder reads.
	scans, segments int
	progressive     bool
	// comps is the number of components of the first frame (0 when none
	// was seen), hv their sampling factors and ids their identifiers.
	comps int
	hv    [4]byte
	ids   [4]byte
	// jfif and adobe are whether a JFIF or an Adobe marker was seen: they
	// decide whether a 3-component image is YCbCr or RGB, which the
	// decoder converts into a second, 4-byte-a-pixel image.
	jfif, adobe bool
}

// jpegScans counts the start-of-scan segments of a JPEG by walking its
// markers, without decoding anything. ok is false when Go's decoder would
// refuse the markers (see readJPEGHeader).
func jpegScans(b []byte) (n int, ok bool) {
	h, ok := readJPEGHeader(b)
	return h.scans, ok
}

// maxJPEGSegments bounds the segments (markers with a length) of a JPEG.
// A camera's JPEG has a few dozen at most, an ICC profile split over
// 64 KB APP2 segments included; each one costs the decoder a little work
// whatever its size.
const maxJPEGSegments = 1024

// readJPEGHeader walks the markers of a JPEG, without decoding anything,
// exactly as the loop of Go's image/jpeg decoder (decoder.decode in
// reader.go) finds them: what it skips, this skips; each SOS it decodes,
// this counts. A scan's entropy-coded data needs no special case: the
// decoder never reads past an 0xFF followed by other than 0x00, an RST
// marker or (resynchronizing after a restart interval) 0xFF, and the
// bytes it leaves before one are skipped below as extraneous data
// (0xFF 0xFF 0x00 excepted: resynchronizing, the decoder may skip it,
// while this refuses the file, which is safe). ok is
// false when the decoder would refuse the file before its end: a segment
// running past the end, a marker it does not know, a second frame, or no
// EOI.
func readJPEGHeader(b []byte) (h jpegHeader, ok bool) {
	frame := false
	i := 2 // after SOI
	for {
		// Bytes up to the next 0xFF are extraneous data, which the
		// decoder skips.
		for i < len(b) && b[i] != 0xFF {
			i++
		}
		if i+1 >= len(b) {
			return h, false
		}
		m := b[i+1]
		i += 2
		if m == 0x00 {
			// "\xff\x00" is extraneous data too, whatever follows it: an
			// older walk read it as a marker with a length and skipped
			// up to 64 KB of scans that the decoder then decoded.
			continue
		}
		for m == 0xFF { // fill bytes before a marker
			if i >= len(b) {
				return h, false
			}
			m = b[i]
			i++
		}
		switch {
		case m == 0xD9: // EOI: the decoder stops here
			return h, true
		case m >= 0xD0 && m <= 0xD7: // RST: no length, ignored
			continue
		}
		h.segments++
		if i+2 > len(b) {
			return h, false
		}
		l := int(b[i])<<8 | int(b[i+1])
		if l < 2 || i+l > len(b) {
			return h, false
		}
		seg := b[i+2 : i+l]
		i += l
		switch {
		case m == 0xC0 || m == 0xC1 || m == 0xC2: // the frames Go's decoder reads
			if frame {
				return h, false // "multiple SOF markers"
			}
			frame = true
			if n := len(seg); n >= 6 && int(seg[5]) <= 4 && n >= 6+3*int(seg[5]) {
				h.comps, h.progressive = int(seg[5]), m == 0xC2
				for c := range h.comps {
					h.ids[c], h.hv[c] = seg[6+3*c], seg[7+3*c]
				}
			}
		case m == 0xDA:
			h.scans++
		case m == 0xE0:
			h.jfif = h.jfif || len(seg) >= 5 && string(seg[:5]) == "JFIF\x00"
		case m == 0xEE:
			h.adobe = h.adobe || len(seg) >= 12 && string(seg[:5]) == "Adobe"
		case m == 0xC4 || m == 0xDB || m == 0xDD || m >= 0xE0 && m <= 0xEF || m == 0xFE:
			// DHT, DQT, DRI, APPn, COM: read or skipped by their length.
		default:
			return h, false // "unknown marker"
		}
	}
}

// cost is about the most Go's image/jpeg allocates decoding a w×h image
// with this header: the planar image (one byte a sample, padded to whole
// MCUs), for a progressive image every block's 64 coefficients as int32
// (kept until the last scan: 4 bytes a sample, the bulk of it), and the
// RGBA or CMYK image that an RGB or 4-component one is converted into.
func (h *jpegHeader) cost(w, ht int) int64 {
	h0, v0 := int64(h.hv[0]>>4), int64(h.hv[0]&15)
	if h.comps == 1 || h0 == 0 || v0 == 0 {
		h0, v0 = 1, 1
	}
	mxx, myy := (int64(w)+8*h0-1)/(8*h0), (int64(ht)+8*v0-1)/(8*v0)
	var blocks int64
	for c := range h.comps {
		if h.comps == 1 {
			blocks += mxx * myy
		} else {
			blocks += mxx * myy * int64(h.hv[c]>>4) * int64(h.hv[c]&15)
		}
	}
	cost := 64 * blocks
	if h.progressive {
		cost += 64 * 4 * blocks
	}
	rgb := h.comps == 3 && !h.jfif && (h.adobe || string(h.ids[:3]) == "RGB")
	if h.comps == 4 || rgb {
		cost += 4 * int64(w) * int64(ht)
	}
	return cost
}
