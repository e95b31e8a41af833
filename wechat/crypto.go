package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// UserInfo is the decrypted payload of wx.getUserInfo's encryptedData.
// Since 2021 WeChat fills nickName and avatarUrl with placeholders for new
// mini programs; the fields are still parsed for older clients.
type UserInfo struct {
	OpenID  string `json:"openId"`
	UnionID string `json:"unionId"`
	Profile
	Watermark Watermark `json:"watermark"`
}

// Profile is the public part of wx.getUserInfo, which rawData carries in the clear.
type Profile struct {
	NickName  string `json:"nickName"`
	Gender    int    `json:"gender"`
	Language  string `json:"language"`
	City      string `json:"city"`
	Province  string `json:"province"`
	Country   string `json:"country"`
	AvatarURL string `json:"avatarUrl"`
}

// Watermark is stamped by WeChat into every encrypted payload to bind it to one app.
type Watermark struct {
	AppID     string `json:"appid"`
	Timestamp int64  `json:"timestamp"`
}

// Decrypt opens WeChat "open data": AES-128-CBC under the base64 session_key
// and iv, PKCS#7 padded. encryptedData and iv of the wrong form return the
// same *MalformedError CheckUserData does; every other failure, a bad
// session_key included, is a *DecryptError.
func Decrypt(sessionKey Secret, encryptedData, iv string) ([]byte, error) {
	ct, err := decodeCiphertext(encryptedData)
	if err != nil {
		return nil, err
	}
	ivb, err := decodeIV(iv)
	if err != nil {
		return nil, err
	}
	key, err := decodeKey(sessionKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrBadKey
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(pt, ct)
	return unpad(pt)
}

// unpad strips PKCS#7 padding, checking every padding byte.
func unpad(b []byte) ([]byte, error) {
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, ErrBadPadding
	}
	if subtle.ConstantTimeCompare(b[len(b)-n:], bytes.Repeat([]byte{byte(n)}, n)) != 1 {
		return nil, ErrBadPadding
	}
	return b[:len(b)-n], nil
}

// Encrypt is Decrypt's inverse, as WeChat does it. The server never needs it;
// the simulator and tests do, to produce open data for a session_key.
func Encrypt(sessionKey Secret, iv string, plaintext []byte) (string, error) {
	key, err := decodeKey(sessionKey)
	if err != nil {
		return "", err
	}
	ivb, err := decodeIV(iv)
	if err != nil {
		return "", err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", ErrBadKey
	}
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := append(bytes.Clone(plaintext), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(block, ivb).CryptBlocks(buf, buf)
	return openDataEncoding.EncodeToString(buf), nil
}

// DecryptUserInfo decrypts wx.getUserInfo's encryptedData and checks that its
// watermark names appID and, when the payload carries one, that its openId is
// openID — so data from another app or another user is refused.
func DecryptUserInfo(appID, openID string, sessionKey Secret, encryptedData, iv string) (*UserInfo, error) {
	pt, err := Decrypt(sessionKey, encryptedData, iv)
	if err != nil {
		return nil, err
	}
	var info UserInfo
	if err := json.Unmarshal(pt, &info); err != nil {
		return nil, ErrBadJSON
	}
	if info.Watermark.AppID == "" || subtle.ConstantTimeCompare([]byte(info.Watermark.AppID), []byte(appID)) != 1 {
		return nil, ErrWatermark
	}
	if info.OpenID != "" && info.OpenID != openID {
		return nil, ErrOpenIDMismatch
	}
	return &info, nil
}

// Sign returns WeChat's rawData signature: hex(sha1(rawData + session_key)).
func Sign(rawData string, sessionKey Secret) string {
	sum := sha1.Sum([]byte(rawData + string(sessionKey)))
	return hex.EncodeToString(sum[:])
}

// VerifySignature checks signature against rawData in constant time and
// returns ErrBadSignature when they differ. rawData and signature of the
// wrong form return the same *MalformedError CheckUserData does.
func VerifySignature(rawData string, sessionKey Secret, signature string) error {
	if err := checkRawData(rawData); err != nil {
		return err
	}
	if err := checkSignature(signature); err != nil {
		return err
	}
	want := Sign(rawData, sessionKey)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(signature))) != 1 {
		return ErrBadSignature
	}
	return nil
}
