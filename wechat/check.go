package wechat

import "fmt"

// Bounds on what a mini program may hand over. They sit far above what
// WeChat produces and far below what would cost us to parse.
const (
	// MaxCodeLen bounds a wx.login() code; today's are 32 characters, and
	// the headroom lets WeChat lengthen them without locking users out.
	MaxCodeLen = 64
)

var errCode = &MalformedError{"code", fmt.Sprintf("must be 1 to %d characters of A-Z a-z 0-9 - . _ ~", MaxCodeLen)}

// CheckCode refuses what cannot be a wx.login() code, so that garbage never
// reaches WeChat. The error is a *MalformedError.
func CheckCode(code string) error {
	if len(code) == 0 || len(code) > MaxCodeLen {
		return errCode
	}
	for i := 0; i < len(code); i++ {
		if !isCodeByte(code[i]) {
			return errCode
		}
	}
	return nil
}

// isCodeByte reports whether b is URL-safe ASCII (RFC 3986 "unreserved"):
// WeChat's codes are letters and digits, and these need no escaping.
func isCodeByte(b byte) bool {
	switch {
	case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9':
		return true
	}
	return b == '-' || b == '.' || b == '_' || b == '~'
}
