package auth_test

import (
	"bytes"
	"strings"
	"testing"

	"wxlogin/auth"
	"wxlogin/store/storetest"
	"wxlogin/wechat"
)

func TestNewService_RefusesAnAppTwice(t *testing.T) {
	t.Parallel()
	wc := wechat.NewClient(wechat.Config{AppID: appID, Secret: "secret"})
	other := wechat.NewClient(wechat.Config{AppID: "wx5555555555555555", Secret: "secret"})
	cfg := auth.Config{SecretKey: bytes.Repeat([]byte("0123456789abcdef"), 2), MoreApps: []*wechat.Client{other, wc}}
	_, err := auth.NewService(storetest.Open(t), wc, cfg)
	if err == nil || !strings.Contains(err.Error(), appID+" given twice") {
		t.Fatalf("err = %v", err)
	}
}
