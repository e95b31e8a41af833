package wechat

import (
	"net/url"
	"slices"
)

// AvatarHosts are the hosts WeChat serves users' avatars from: the
// avatarUrl of wx.getUserInfo points at one of them. A stored avatar URL on
// any other host did not come from WeChat, and a page that showed it would
// let whoever wrote it learn who looked (an admin's IP, when, how often).
var AvatarHosts = []string{"thirdwx.qlogo.cn", "wx.qlogo.cn", "mmbiz.qpic.cn", "mmbiz.qlogo.cn"}

// IsAvatarURL reports whether s is an https URL on one of AvatarHosts, with
// no user name, password or port: the only foreign avatar URLs we keep and show.
func IsAvatarURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || u.Opaque != "" {
		return false
	}
	return slices.Contains(AvatarHosts, u.Host)
}
