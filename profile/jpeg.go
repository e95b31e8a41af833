package profile

// maxJPEGScans bounds a JPEG's scans. Each scan of a progressive JPEG makes
// the decoder visit every block of the image, whatever the scan's size: a
// few kilobytes of 30-byte scans cost minutes of CPU, and a decode cannot
// be cancelled. Encoders write 1 scan (baseline) or about 10 (libjpeg's
// progressive script).
const maxJPEGScans = 32

// jpegHeader is what the segments of a JPEG say about its decoding cost.
type jpegHeader struct {
	scans       int
	progressive bool
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
// markers, without decoding anything. ok is false when a segment runs
// past the end.
func jpegScans(b []byte) (n int, ok bool) {
	h, ok := readJPEGHeader(b)
	return h.scans, ok
}

// readJPEGHeader walks the markers of a JPEG, without decoding anything.
// ok is false when a segment runs past the end.
func readJPEGHeader(b []byte) (h jpegHeader, ok bool) {
	i := 2 // after SOI
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			// Bytes between segments: some encoders leave them, and
			// decoders skip to the next marker, so do we.
			i++
			continue
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte before a marker
			i++
			continue
		case m == 0xD9: // EOI
			return h, true
		case m >= 0xD0 && m <= 0xD7 || m == 0x01: // markers without a length
			i += 2
			continue
		}
		l := int(b[i+2])<<8 | int(b[i+3])
		if l < 2 || i+2+l > len(b) {
			return h, false
		}
		seg := b[i+4 : i+2+l]
		i += 2 + l
		switch m {
		case 0xC0, 0xC1, 0xC2: // the frames Go's decoder reads; it takes the first
			if n := len(seg); h.comps == 0 && n >= 6 && int(seg[5]) <= 4 && n >= 6+3*int(seg[5]) {
				h.comps, h.progressive = int(seg[5]), m == 0xC2
				for c := range h.comps {
					h.ids[c], h.hv[c] = seg[6+3*c], seg[7+3*c]
				}
			}
		case 0xE0:
			h.jfif = h.jfif || len(seg) >= 5 && string(seg[:5]) == "JFIF\x00"
		case 0xEE:
			h.adobe = h.adobe || len(seg) >= 12 && string(seg[:5]) == "Adobe"
		}
		if m != 0xDA {
			continue
		}
		h.scans++
		// Skip the entropy-coded data: up to the next marker, which is
		// 0xFF followed by neither a stuffed 0x00 nor a restart marker.
		for i+1 < len(b) && (b[i] != 0xFF || b[i+1] == 0x00 || b[i+1] >= 0xD0 && b[i+1] <= 0xD7) {
			i++
		}
	}
	return h, true
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
