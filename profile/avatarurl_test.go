package profile

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The admin page's CSP allows images from ImageSources only (web.AdminCSP):
// every avatar URL handed out must be the server's own path or on one of
// them, and a foreign URL a row holds is shown as no avatar.
func TestAvatarURL_OnlyFromImageSources(t *testing.T) {
	t.Parallel()
	for _, public := range []string{"", "https://api.example.com", "https://cdn.example.com/wx/"} {
		for stored, shown := range map[string]bool{
			"https://thirdwx.qlogo.cn/mmopen/vi_32/x/132": true,
			"https://wx.qlogo.cn/mmhead/x/0":              true,
			"/avatars/ab.jpg":                             true,
			"https://tracker.example/pixel.png":           false,
			"https://wx.qlogo.cn.tracker.example/a":       false,
			"https://wx.qlogo.cn:444/a":                   false,
			"http://thirdwx.qlogo.cn/mmopen/x/132":        false,
		} {
			got := AvatarURL(&stored, public)
			if (got != nil) != shown {
				t.Errorf("AvatarURL(%q, %q) = %v, want shown=%v", stored, public, got, shown)
				continue
			}
			if got == nil || strings.HasPrefix(*got, "/") {
				continue
			}
			u, err := url.Parse(*got)
			if err != nil || !slices.Contains(ImageSources(public), u.Scheme+"://"+u.Host) {
				t.Errorf("AvatarURL(%q, %q) = %s, an origin ImageSources = %v does not allow", stored, public, *got, ImageSources(public))
			}
		}
	}
}
