package wechat

import (
	"crypto/aes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds on what a mini program may hand over. They sit far above what
// WeChat produces and far below what would cost us to parse.
const (
	// MaxCodeLen bounds a wx.login() code; today's are 32 characters, and
	// the headroom lets WeChat lengthen them without locking users out.
	MaxCodeLen = 64
	// MaxRawDataLen bounds rawData in bytes; WeChat's is a few hundred.
	MaxRawDataLen = 8 << 10
	// MaxEncryptedDataLen bounds encryptedData's decoded bytes; WeChat's
	// user info is well under 2 KiB even with a long nickname and avatar URL.
	MaxEncryptedDataLen = 16 << 10
)

// signatureLen is the length of sha1 in hex, which is what Sign produces.
const signatureLen = 40

// Each rule of form has exactly one error, so CheckUserData and the
// functions that later use the data can never word a rule differently.
var (
	errCode                 = &MalformedError{"code", fmt.Sprintf("must be 1 to %d characters of A-Z a-z 0-9 - . _ ~", MaxCodeLen)}
	errRawDataTooLong       = &MalformedError{"rawData", fmt.Sprintf("must be at most %d bytes", MaxRawDataLen)}
	errRawDataNotObject     = &MalformedError{"rawData", "must be a JSON object"}
	errSignature            = &MalformedError{"signature", fmt.Sprintf("must be %d hex digits", signatureLen)}
	errEncryptedDataBase64  = &MalformedError{"encryptedData", "must be padded standard base64"}
	errEncryptedDataLength  = &MalformedError{"encryptedData", fmt.Sprintf("must decode to a positive multiple of %d bytes, at most %d", aes.BlockSize, MaxEncryptedDataLen)}
	errIVBase64             = &MalformedError{"iv", "must be padded standard base64"}
	errIVLength             = &MalformedError{"iv", fmt.Sprintf("must decode to %d bytes", aes.BlockSize)}
	errSignatureMissing     = &MalformedError{"signature", "is required with rawData"}
	errRawDataMissing       = &MalformedError{"rawData", "is required with signature"}
	errIVMissing            = &MalformedError{"iv", "is required with encryptedData"}
	errEncryptedDataMissing = &MalformedError{"encryptedData", "is required with iv"}
)

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

// CheckUserData checks the legacy wx.getUserInfo fields for everything that
// does not need the session_key. Call it before Code2Session: a code is
// single-use, and data refused after the exchange costs the user a new
// wx.login(). Empty means not given; the pairs (rawData, signature) and
// (encryptedData, iv) come together or not at all. The error is a
// *MalformedError naming the first field at fault.
func CheckUserData(rawData, signature, encryptedData, iv string) error {
	switch {
	case rawData != "" && signature == "":
		return errSignatureMissing
	case signature != "" && rawData == "":
		return errRawDataMissing
	case encryptedData != "" && iv == "":
		return errIVMissing
	case iv != "" && encryptedData == "":
		return errEncryptedDataMissing
	}
	if rawData != "" {
		if err := checkRawData(rawData); err != nil {
			return err
		}
		if err := checkSignature(signature); err != nil {
			return err
		}
	}
	if encryptedData != "" {
		if _, err := decodeCiphertext(encryptedData); err != nil {
			return err
		}
		if _, err := decodeIV(iv); err != nil {
			return err
		}
	}
	return nil
}

// checkRawData accepts a JSON object, which is all wx.getUserInfo's rawData
// can be; its fields are left to the caller.
func checkRawData(raw string) error {
	if len(raw) > MaxRawDataLen {
		return errRawDataTooLong
	}
	// JSON text is UTF-8 (RFC 8259), but json.Valid does not check that.
	if !utf8.ValidString(raw) || !json.Valid([]byte(raw)) {
		return errRawDataNotObject
	}
	// Valid JSON whose first token is '{' is an object as a whole.
	if !strings.HasPrefix(strings.TrimLeft(raw, " \t\r\n"), "{") {
		return errRawDataNotObject
	}
	return nil
}

// checkSignature accepts sha1 in hex of either case: WeChat sends lower
// case, and VerifySignature compares without regard to case.
func checkSignature(sig string) error {
	if len(sig) != signatureLen {
		return errSignature
	}
	for i := 0; i < len(sig); i++ {
		c := sig[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return errSignature
		}
	}
	return nil
}

// openDataEncoding is how WeChat spells session_key, iv and encryptedData:
// the standard alphabet with padding. Strict refuses nonzero trailing bits,
// so a byte string has one spelling, as WeChat's encoder produces it.
var openDataEncoding = base64.StdEncoding.Strict()

// decodeBase64 is the one base64 decoder of open data. Go's decoder skips
// CR and LF; WeChat never sends them, so they are refused too.
func decodeBase64(s string) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := openDataEncoding.DecodeString(s)
	return b, err == nil
}

// decodeCiphertext decodes encryptedData: whole AES blocks, bounded.
func decodeCiphertext(data string) ([]byte, error) {
	// Refuse by length before decoding, so an oversized value costs nothing.
	if len(data) > openDataEncoding.EncodedLen(MaxEncryptedDataLen) {
		return nil, errEncryptedDataLength
	}
	ct, ok := decodeBase64(data)
	if !ok {
		return nil, errEncryptedDataBase64
	}
	// The last test cannot fail while MaxEncryptedDataLen is a multiple of
	// 16 (the length check above allows at most 2 bytes more); it keeps the
	// rule whole should the bound change.
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 || len(ct) > MaxEncryptedDataLen {
		return nil, errEncryptedDataLength
	}
	return ct, nil
}

// decodeIV decodes iv: one AES block.
func decodeIV(iv string) ([]byte, error) {
	if len(iv) > openDataEncoding.EncodedLen(aes.BlockSize) {
		return nil, errIVLength
	}
	b, ok := decodeBase64(iv)
	if !ok {
		return nil, errIVBase64
	}
	if len(b) != aes.BlockSize {
		return nil, errIVLength
	}
	return b, nil
}

// decodeKey decodes a session_key. It comes from WeChat, not the client,
// so its failure is a *DecryptError rather than malformed input.
func decodeKey(key Secret) ([]byte, error) {
	b, ok := decodeBase64(string(key))
	if !ok || len(b) != aes.BlockSize {
		return nil, ErrBadKey
	}
	return b, nil
}
