package wechat_test

import (
	"testing"

	"wxlogin/wechat"
)

func TestIsAvatarURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://thirdwx.qlogo.cn/mmopen/vi_32/x/132": true,
		"https://wx.qlogo.cn/mmhead/x/0":              true,
		"http://thirdwx.qlogo.cn/mmopen/x/132":        false,
		"https://evil.example/x.png":                  false,
		"https://thirdwx.qlogo.cn.evil.example/x":     false,
		"https://u:p@thirdwx.qlogo.cn/x":              false,
		"https://thirdwx.qlogo.cn:8443/x":             false,
		"https:thirdwx.qlogo.cn/x":                    false,
		"javascript:alert(1)":                         false,
		"":                                            false,
	} {
		if got := wechat.IsAvatarURL(s); got != want {
			t.Errorf("IsAvatarURL(%q) = %v, want %v", s, got, want)
		}
	}
}
