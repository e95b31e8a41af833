package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

const goodKey = "3f6e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"

func TestParseConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"DATABASE_URL": "postgres://localhost/x", "WECHAT_APPID": "wxabc", "WECHAT_SECRET": "s", "SECRET_KEY": goodKey,
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}

	t.Run("Defaults", func(t *testing.T) {
		c, err := parseConfig("t", nil, envOf(base), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.Port != 8080 || c.SessionTTL != 30*24*time.Hour || c.WechatTimeout != 5*time.Second ||
			c.WechatAPIBase != "https://api.weixin.qq.com" || c.DBMaxConns != 20 || c.DevWechat || c.Host != "" {
			t.Fatalf("config = %+v", c)
		}
	})

	t.Run("FlagsWin", func(t *testing.T) {
		c, err := parseConfig("t", []string{"-port", "9000", "-session-ttl", "7d"}, envOf(with("PORT", "1")), io.Discard)
		if err != nil || c.Port != 9000 || c.SessionTTL != 7*24*time.Hour {
			t.Fatalf("config = %+v, %v", c, err)
		}
		c, err = parseConfig("t", nil, envOf(with("SESSION_TTL", "3600")), io.Discard)
		if err != nil || c.SessionTTL != time.Hour {
			t.Fatalf("bare seconds: %v, %v", c.SessionTTL, err)
		}
	})

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"NoAppID", with("WECHAT_APPID", ""), "WECHAT_APPID is required"},
		{"NoSecret", with("WECHAT_SECRET", ""), "WECHAT_SECRET is required"},
		{"NoSecretKey", with("SECRET_KEY", ""), "SECRET_KEY is required"},
		{"WeakSecretKey", with("SECRET_KEY", "hunter2"), "SECRET_KEY must be 32 random bytes"},
		{"NoDatabase", with("DATABASE_URL", ""), "DATABASE_URL is required"},
		{"BadPort", with("PORT", "http"), "PORT"},
		{"BadTTL", with("SESSION_TTL", "forever"), "SESSION_TTL"},
		{"BadDev", with("DEV_WECHAT", "maybe"), "DEV_WECHAT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("t", nil, envOf(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("err spans lines: %q", err)
			}
		})
	}

	t.Run("DevModeFillsIn", func(t *testing.T) {
		c, err := parseConfig("t", nil, envOf(map[string]string{"DATABASE_URL": "postgres://localhost/x", "DEV_WECHAT": "1"}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.WechatAppID != DevAppID || c.WechatSecret == "" || len(c.SecretKey) != 32 || c.Host != "127.0.0.1" || len(c.generated) != 3 {
			t.Fatalf("config = %+v", c)
		}
	})
}

func TestRun_RefusesWithoutAppID(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), nil, envOf(nil), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "WECHAT_APPID is required") || !strings.Contains(err.Error(), "DEV_WECHAT=1") {
		t.Fatalf("err = %v", err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, envOf(nil), &stdout, &stderr); err == nil {
		t.Fatal("unknown command accepted")
	}
}
