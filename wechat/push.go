package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Message push (消息推送): WeChat calls the developer's server with events,
// signed with the Token configured in the mini program's console and, in
// safe mode (安全模式), encrypted under its EncodingAESKey. The scheme is
// the one of WeChat's WXBizMsgCrypt sample code:
//
//   - URL verification and plaintext messages: signature =
//     hex(sha1(the sorted concatenation of token, timestamp, nonce));
//   - safe mode: msg_signature = hex(sha1(sorted token, timestamp, nonce,
//     Encrypt)), and Encrypt = base64(AES-256-CBC(key, iv = key[:16],
//     PKCS#7 to 32-byte blocks of 16 random bytes ‖ 4-byte big-endian
//     length ‖ message ‖ appid)), key = base64(EncodingAESKey + "=").

// PushKeyLen is the length of an EncodingAESKey: 43 base64 characters, 32 bytes.
const PushKeyLen = 43

// pushBlock is the PKCS#7 block of push messages: 32, not AES's 16.
const pushBlock = 32

// Push errors, for errors.Is. All match ErrPush; none says more than which
// check failed, and none quotes the input.
var (
	// ErrPush matches every refused push.
	ErrPush = errors.New("wechat: push refused")
	// ErrPushSignature: signature or msg_signature does not match.
	ErrPushSignature = &PushError{"signature does not match"}
	// ErrPushTimestamp: the timestamp is not a number or too far from now.
	ErrPushTimestamp = &PushError{"timestamp missing or too far from now"}
	// ErrPushAppID: the decrypted message names another appid.
	ErrPushAppID = &PushError{"appid does not match"}
	// ErrPushCipher: Encrypt is not base64 of whole AES blocks, its padding
	// or inner length is wrong.
	ErrPushCipher = &PushError{"ciphertext does not decrypt"}
	// ErrPushBody: the body (or the decrypted message) is neither a JSON
	// object nor an <xml> document of the expected shape.
	ErrPushBody = &PushError{"body does not parse"}
	// ErrPushNoKey: a safe-mode message for an app without an EncodingAESKey.
	ErrPushNoKey = &PushError{"encrypted message but no EncodingAESKey configured"}
)

// PushError says which check a push failed. Every PushError matches ErrPush.
type PushError struct{ reason string }

// Error names the failed check.
func (e *PushError) Error() string { return "wechat: push refused: " + e.reason }

// Is makes every PushError match ErrPush.
func (e *PushError) Is(target error) bool { return target == ErrPush }

// ParseEncodingAESKey returns the AES-256 key of an EncodingAESKey: 43
// characters of standard base64 that, with "=" added, decode to 32 bytes.
func ParseEncodingAESKey(s string) ([]byte, error) {
	if len(s) != PushKeyLen {
		return nil, errors.New("an EncodingAESKey is 43 characters")
	}
	// Not Strict: WeChat's console makes keys of 43 random letters and
	// digits, whose last character's two unused bits are mostly not zero
	// (its own sample key's are not).
	key, err := base64.StdEncoding.DecodeString(s + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("an EncodingAESKey is 43 characters of base64 (letters, digits, + and /) that decode to 32 bytes")
	}
	return key, nil
}

// ValidPushToken reports whether s can be a message push Token: WeChat's
// console takes 3 to 32 letters and digits.
func ValidPushToken(s string) bool {
	if len(s) < 3 || len(s) > 32 {
		return false
	}
	for _, b := range []byte(s) {
		if (b < '0' || b > '9') && (b < 'a' || b > 'z') && (b < 'A' || b > 'Z') {
			return false
		}
	}
	return true
}

// PushSignature is WeChat's push signature: hex(sha1(the parts sorted
// and concatenated)). The parts are token, timestamp and nonce, and in safe
// mode also the Encrypt field.
func PushSignature(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	sum := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(sum[:])
}

// Pusher checks and opens the pushes of one mini program, and (for the
// simulator and tests) makes them.
type Pusher struct {
	appID string
	token string
	// key is nil when no EncodingAESKey is configured: plaintext only.
	key []byte
}

// NewPusher returns the Pusher of appID; encodingAESKey may be empty
// (plaintext mode only).
func NewPusher(appID, token, encodingAESKey string) (*Pusher, error) {
	if !ValidPushToken(token) {
		return nil, errors.New("a push Token is 3 to 32 letters and digits")
	}
	p := &Pusher{appID: appID, token: token}
	if encodingAESKey != "" {
		key, err := ParseEncodingAESKey(encodingAESKey)
		if err != nil {
			return nil, err
		}
		p.key = key
	}
	return p, nil
}

// AppID is the mini program this Pusher is for.
func (p *Pusher) AppID() string { return p.appID }

// Encrypts reports whether an EncodingAESKey is configured (safe mode possible).
func (p *Pusher) Encrypts() bool { return p.key != nil }

// Sign returns the signature of a URL verification or plaintext message.
func (p *Pusher) Sign(timestamp, nonce string) string {
	return PushSignature(p.token, timestamp, nonce)
}

// SignMessage returns the msg_signature of a safe-mode message.
func (p *Pusher) SignMessage(timestamp, nonce, encrypt string) string {
	return PushSignature(p.token, timestamp, nonce, encrypt)
}

// Verify checks signature (URL verification and plaintext messages) in
// constant time: ErrPushSignature when it differs.
func (p *Pusher) Verify(signature, timestamp, nonce string) error {
	return sameSignature(p.Sign(timestamp, nonce), signature)
}

// VerifyMessage checks a safe-mode message's msg_signature over encrypt,
// in constant time: ErrPushSignature when it differs.
func (p *Pusher) VerifyMessage(msgSignature, timestamp, nonce, encrypt string) error {
	return sameSignature(p.SignMessage(timestamp, nonce, encrypt), msgSignature)
}

func sameSignature(want, got string) error {
	// WeChat sends lower-case hex; ours is lower-case too, so a compare
	// of the bytes is exact (and upper case is refused, as it never comes).
	if subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return ErrPushSignature
	}
	return nil
}

// CheckPushTimestamp checks that timestamp (Unix seconds, as WeChat sends
// it) is within skew of now: older pushes are replays.
func CheckPushTimestamp(timestamp string, now time.Time, skew time.Duration) error {
	if len(timestamp) == 0 || len(timestamp) > 12 {
		return ErrPushTimestamp
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || ts < 0 {
		return ErrPushTimestamp
	}
	d := now.Sub(time.Unix(ts, 0))
	if d > skew || d < -skew {
		return ErrPushTimestamp
	}
	return nil
}

// Decrypt opens a safe-mode Encrypt field and returns the message, after
// checking that the appid at its end is this Pusher's.
func (p *Pusher) Decrypt(encrypt string) ([]byte, error) {
	if p.key == nil {
		return nil, ErrPushNoKey
	}
	ct, err := base64.StdEncoding.DecodeString(encrypt)
	// At least two blocks: 16 random bytes and a length fill one, and
	// PKCS#7 to 32 bytes always adds at least one byte.
	if err != nil || len(ct) < pushBlock || len(ct)%aes.BlockSize != 0 {
		return nil, ErrPushCipher
	}
	block, err := aes.NewCipher(p.key)
	if err != nil {
		return nil, ErrPushCipher
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, p.key[:aes.BlockSize]).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	if n == 0 || n > pushBlock || n > len(pt) || !bytes.Equal(pt[len(pt)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, ErrPushCipher
	}
	pt = pt[:len(pt)-n]
	if len(pt) < 20 {
		return nil, ErrPushCipher
	}
	size := binary.BigEndian.Uint32(pt[16:20])
	rest := pt[20:]
	if uint64(size) > uint64(len(rest)) {
		return nil, ErrPushCipher
	}
	msg, appID := rest[:size], rest[size:]
	if subtle.ConstantTimeCompare(appID, []byte(p.appID)) != 1 {
		return nil, ErrPushAppID
	}
	return msg, nil
}

// Encrypt is Decrypt's inverse, as WeChat does it, with 16 random bytes.
// The server never needs it; the simulator and tests do.
func (p *Pusher) Encrypt(msg []byte) (string, error) {
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return "", err
	}
	return p.EncryptWith(random, msg)
}

// EncryptWith is Encrypt with the given 16-byte random prefix, so that a
// test can reproduce WeChat's published sample.
func (p *Pusher) EncryptWith(random, msg []byte) (string, error) {
	if p.key == nil {
		return "", ErrPushNoKey
	}
	if len(random) != 16 {
		return "", errors.New("wechat: the random prefix is 16 bytes")
	}
	buf := make([]byte, 0, 20+len(msg)+len(p.appID)+pushBlock)
	buf = append(buf, random...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(msg)))
	buf = append(buf, msg...)
	buf = append(buf, p.appID...)
	n := pushBlock - len(buf)%pushBlock
	buf = append(buf, bytes.Repeat([]byte{byte(n)}, n)...)
	block, err := aes.NewCipher(p.key)
	if err != nil {
		return "", err
	}
	cipher.NewCBCEncrypter(block, p.key[:aes.BlockSize]).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), nil
}
