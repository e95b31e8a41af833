package profile

// maxJPEGScans bounds a JPEG's scans. Each scan of a progressive JPEG makes
// the decoder visit every block of the image, whatever the scan's size: a
// few kilobytes of 30-byte scans cost minutes of CPU, and a decode cannot
// be cancelled. Encoders write 1 scan (baseline) or about 10 (libjpeg's
// progressive script).
const maxJPEGScans = 32

// jpegScans counts the start-of-scan segments of a JPEG by walking its
// markers, without decoding anything. ok is false when a segment runs
// past the end.
func jpegScans(b []byte) (n int, ok bool) {
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
			return n, true
		case m >= 0xD0 && m <= 0xD7 || m == 0x01: // markers without a length
			i += 2
			continue
		}
		l := int(b[i+2])<<8 | int(b[i+3])
		if l < 2 || i+2+l > len(b) {
			return n, false
		}
		i += 2 + l
		if m != 0xDA {
			continue
		}
		n++
		// Skip the entropy-coded data: up to the next marker, which is
		// 0xFF followed by neither a stuffed 0x00 nor a restart marker.
		for i+1 < len(b) && (b[i] != 0xFF || b[i+1] == 0x00 || b[i+1] >= 0xD0 && b[i+1] <= 0xD7) {
			i++
		}
	}
	return n, true
}
