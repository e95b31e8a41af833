package auth_test

import (
	"testing"

	"wxlogin/auth"
	"wxlogin/wechat"
)

func TestMaskPhone(t *testing.T) {
	for _, c := range []struct{ cc, national, want string }{
		{"86", "13800138000", "+86138****8000"},
		{"44", "7700900123", "+44******0123"},
		{"1", "2025550143", "+1******0143"},
		{"852", "91234567", "+852****4567"},
		{"354", "4211234", "+354*****34"},
		{"1", "12", "+1**"},
	} {
		if got := auth.MaskPhone(&wechat.Phone{E164: "+" + c.cc + c.national, CountryCode: c.cc, National: c.national}); got != c.want {
			t.Errorf("MaskPhone(+%s %s) = %s, want %s", c.cc, c.national, got, c.want)
		}
	}
}
