package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"wxlogin/auth"
	"wxlogin/gqlhttp"
	"wxlogin/ratelimit"
	"wxlogin/wechat"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

const (
	goodKey     = "3f6e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
	previousKey = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"DATABASE_URL": "postgres://localhost/x", "WECHAT_APPID": "wx0123456789abcdef", "WECHAT_SECRET": "s", "SECRET_KEY": goodKey, "PUBLIC_URL": "https://api.example.com",
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
			c.WechatAPIBase != "https://api.weixin.qq.com" || c.DBMaxConns != 20 || c.DevWechat || c.Host != "" ||
			c.AdminDBMaxConns != 4 || c.AdminStatementTimeout != 5*time.Second {
			t.Fatalf("config = %+v", c)
		}
	})

	t.Run("StatsZone", func(t *testing.T) {
		c, err := parseConfig("t", nil, envOf(base), io.Discard)
		if err != nil || c.StatsZone == nil || c.StatsZone.String() != "Asia/Shanghai" {
			t.Fatalf("default STATS_TIME_ZONE = %v, %v", c.StatsZone, err)
		}
		c, err = parseConfig("t", nil, envOf(with("STATS_TIME_ZONE", "Europe/Berlin")), io.Discard)
		if err != nil || c.StatsZone.String() != "Europe/Berlin" {
			t.Fatalf("STATS_TIME_ZONE=Europe/Berlin = %v, %v", c.StatsZone, err)
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
		{"WeakPreviousKey", with("SECRET_KEY_PREVIOUS", goodKey+",hunter2"), "SECRET_KEY_PREVIOUS entry 2 must be 32 random bytes"},
		{"NoDatabase", with("DATABASE_URL", ""), "DATABASE_URL is required"},
		{"BadPort", with("PORT", "http"), "PORT"},
		{"BadTTL", with("SESSION_TTL", "forever"), "SESSION_TTL"},
		{"BadDev", with("DEV_WECHAT", "maybe"), "DEV_WECHAT"},
		{"BadProxyCIDR", with("TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.1/33"), "TRUSTED_PROXIES entry 2 (\"10.0.0.1/33\") is not an IP address or a CIDR prefix"},
		{"ProxyCIDRNotMasked", with("TRUSTED_PROXIES", "10.1.2.3/8"), "write 10.0.0.0/8"},
		{"ProxyTrustsAll", with("TRUSTED_PROXIES", "0.0.0.0/0"), "TRUSTED_PROXIES entry 1 (\"0.0.0.0/0\") trusts every address"},
		{"CORSStar", with("CORS_ORIGINS", "*"), "CORS_ORIGINS entry 1 is *: list exact origins"},
		{"CORSPath", with("CORS_ORIGINS", "https://admin.example.com/x"), "CORS_ORIGINS entry 1"},
		{"NoAdminConns", with("ADMIN_DB_MAX_CONNS", "0"), "ADMIN_DB_MAX_CONNS must be a positive number"},
		{"BadAdminTimeout", with("ADMIN_STATEMENT_TIMEOUT", "soon"), "ADMIN_STATEMENT_TIMEOUT must be a duration"},
		{"AdminTimeoutPastRequest", with("ADMIN_STATEMENT_TIMEOUT", "30s"), "ADMIN_STATEMENT_TIMEOUT (30s) must be shorter than REQUEST_TIMEOUT (30s)"},
		{"StatsZoneUnknown", with("STATS_TIME_ZONE", "Asia/Beijing"), `STATS_TIME_ZONE: "Asia/Beijing" is not an IANA time zone name`},
		{"StatsZoneLocal", with("STATS_TIME_ZONE", "Local"), `STATS_TIME_ZONE: "Local" is not an IANA time zone name`},
		{"StatsZoneOffset", with("STATS_TIME_ZONE", "+08:00"), `STATS_TIME_ZONE: "+08:00" is not an IANA time zone name`},
		{"PolicyVersionSpace", with("POLICY_VERSION", "2026 11"), "POLICY_VERSION must be at most 64 characters without spaces"},
		{"PolicyVersionLong", with("POLICY_VERSION", strings.Repeat("v", 65)), "POLICY_VERSION must be at most 64 characters"},
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

	t.Run("ProxiesAndOrigins", func(t *testing.T) {
		env := with("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
		env["CORS_ORIGINS"] = "https://Admin.Example.com/"
		c, err := parseConfig("t", nil, envOf(env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !c.TrustedProxies.Trusts(netip.MustParseAddr("10.2.3.4")) || !c.TrustedProxies.Trusts(netip.MustParseAddr("127.0.0.1")) ||
			c.TrustedProxies.Trusts(netip.MustParseAddr("127.0.0.2")) || !slices.Equal(c.CORSOrigins, []string{"https://admin.example.com"}) {
			t.Fatalf("config = %+v", c)
		}
		c, err = parseConfig("t", nil, envOf(base), io.Discard)
		if err != nil || c.TrustedProxies.Trusts(netip.MustParseAddr("127.0.0.1")) || c.CORSOrigins != nil {
			t.Fatalf("defaults trust %+v, allow %q (%v)", c.TrustedProxies, c.CORSOrigins, err)
		}
	})

	t.Run("PreviousKeys", func(t *testing.T) {
		c, err := parseConfig("t", nil, envOf(with("SECRET_KEY_PREVIOUS", " "+strings.ToUpper(goodKey)+" , "+goodKey)), io.Discard)
		if err != nil || len(c.PreviousSecretKeys) != 2 || !bytes.Equal(c.PreviousSecretKeys[0], c.SecretKey) {
			t.Fatalf("previous keys: %d, %v", len(c.PreviousSecretKeys), err)
		}
		if c, err := parseConfig("t", nil, envOf(base), io.Discard); err != nil || c.PreviousSecretKeys != nil {
			t.Fatalf("previous keys by default: %d, %v", len(c.PreviousSecretKeys), err)
		}
	})

	t.Run("DevModeFillsIn", func(t *testing.T) {
		c, err := parseConfig("t", nil, envOf(map[string]string{"DATABASE_URL": "postgres://localhost/x", "DEV_WECHAT": "1"}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.WechatAppID != DevAppID || c.WechatSecret == "" || len(c.SecretKey) != 32 || c.Host != "127.0.0.1" || len(c.generated) != 4 {
			t.Fatalf("config = %+v", c)
		}
	})
}

func TestRun_RefusesWithoutAppID(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), nil, envOf(nil), nil, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "WECHAT_APPID is required") || !strings.Contains(err.Error(), "DEV_WECHAT=1") {
		t.Fatalf("err = %v", err)
	}
	// An unknown command is a usage error that lists the commands, not
	// the admin subcommands (it once printed adminUsage).
	err = Run(context.Background(), []string{"frobnicate"}, envOf(nil), nil, &stdout, &stderr)
	if _, usage := err.(UsageError); !usage || !strings.Contains(err.Error(), `unknown command "frobnicate"`) ||
		!strings.Contains(err.Error(), "wxlogin [serve|migrate|admin|rekey]") || strings.Contains(err.Error(), "admin create") {
		t.Fatalf("frobnicate: %v", err)
	}
}

// TestRun_UsageNeverPrintsSecrets: Go's flag package prints every flag's
// default on -h and on any flag error, and those defaults once came from
// the environment — the app secret and the database password landed in
// the container log.
func TestRun_UsageNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"WECHAT_SECRET": "wechat-secret-7c1d9e", "SECRET_KEY": goodKey, "SECRET_KEY_PREVIOUS": previousKey,
		"DATABASE_URL": "postgres://u:db-password-5a8f@db.example:5432/x", "WECHAT_APPID": "wx0123456789abcdef",
		"WECHAT_APPS": "wx0123456789abcdef:wechat-secret-7c1d9e,wxfedcba9876543210:second-secret-2b4d",
	}
	for _, args := range [][]string{
		{"serve", "-prot", "80"}, {"serve", "-h"}, {"-h"}, {"serve", "-port"}, {"serve", "-port", "http"},
		{"migrate", "-h"}, {"migrate", "-nope"}, {"serve", "extra"},
		{"admin", "create", "x", "-nope"}, {"admin", "list"}, {"admin", "-h"},
		{"rekey", "-h"}, {"rekey", "-nope"}, {"rekey", "extra"}, {"rekey", "-batch", "0"},
		{"serve", "-secret-key-previous", "hunter2"}, {"rekey", "-secret-key-previous", "x," + goodKey},
	} {
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), args, envOf(env), nil, &stdout, &stderr)
		out := stdout.String() + stderr.String() + fmt.Sprint(err)
		for _, secret := range []string{"wechat-secret-7c1d9e", "second-secret-2b4d", goodKey, previousKey, "db-password-5a8f"} {
			if strings.Contains(out, secret) {
				t.Fatalf("%v prints a secret:\n%s", args, out)
			}
		}
		if args[len(args)-1] == "-h" && args[0] != "admin" && !strings.Contains(out, "DATABASE_URL") {
			t.Fatalf("%v prints no usage:\n%s", args, out)
		}
	}
}

func TestParseConfig_DevModeStaysLocal(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://localhost/x", "DEV_WECHAT": "1"}
	for host, ok := range map[string]bool{"": true, "127.0.0.1": true, "localhost": true, "::1": true, "0.0.0.0": false, "::": false, "10.1.2.3": false} {
		env := maps.Clone(env)
		env["HOST"] = host
		_, err := parseConfig("t", nil, envOf(env), io.Discard)
		if (err == nil) != ok {
			t.Fatalf("HOST=%q: err = %v", host, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "DEV_WECHAT_UNSAFE_PUBLIC") || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("HOST=%q: err = %v", host, err)
		}
		env["DEV_WECHAT_UNSAFE_PUBLIC"] = "1"
		if _, err := parseConfig("t", nil, envOf(env), io.Discard); err != nil {
			t.Fatalf("HOST=%q with DEV_WECHAT_UNSAFE_PUBLIC=1: %v", host, err)
		}
	}
}

// TestParseConfig_TimeoutsAddUp: a request deadline shorter than the
// longest login would cut logins whose code WeChat has already spent.
func TestParseConfig_TimeoutsAddUp(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://localhost/x", "DEV_WECHAT": "1"}
	c, err := parseConfig("t", nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	longestLogin := 2*c.WechatTimeout + wechat.DefaultRetryBackoff*3/2 + auth.DefaultRecordTimeout
	if c.RequestTimeout <= longestLogin || c.writeTimeout() <= c.RequestTimeout {
		t.Fatalf("request %v, write %v, longest login %v", c.RequestTimeout, c.writeTimeout(), longestLogin)
	}
	env["WECHAT_TIMEOUT"] = "10s" // 2×10 s + 10 s no longer fits in 30 s
	if _, err := parseConfig("t", nil, envOf(env), io.Discard); err == nil || !strings.Contains(err.Error(), "REQUEST_TIMEOUT") {
		t.Fatalf("err = %v", err)
	}
	env["REQUEST_TIMEOUT"] = "45s"
	if _, err := parseConfig("t", nil, envOf(env), io.Discard); err != nil {
		t.Fatal(err)
	}
}

func TestParseConfig_WechatApps(t *testing.T) {
	t.Parallel()
	const (
		appA, appB = "wx0123456789abcdef", "wxfedcba9876543210"
		secretA    = "secret-a-9f8e7d6c5b4a"
		secretB    = "secret-b-1a2b3c4d5e6f"
	)
	apps := appA + ":" + secretA + "," + appB + ":" + secretB
	env := func(kv ...string) map[string]string {
		m := map[string]string{"DATABASE_URL": "postgres://localhost/x", "SECRET_KEY": goodKey, "PUBLIC_URL": "https://api.example.com"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	want := []WechatApp{{AppID: appA, Secret: secretA}, {AppID: appB, Secret: secretB}}
	const (
		pushToken = "pushTokenA1"
		pushKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		pushKeyB  = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
	)

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"AppsAlone", env("WECHAT_APPS", apps), nil},
		{"SpacesAroundEntries", env("WECHAT_APPS", " "+appA+":"+secretA+" ,\n "+appB+":"+secretB+"\n"), nil},
		{"Flag", env(), []string{"-wechat-apps", apps}},
		{"ConsistentWithAppID", env("WECHAT_APPS", apps, "WECHAT_APPID", appA), nil},
		{"ConsistentWithAppIDAndSecret", env("WECHAT_APPS", apps, "WECHAT_APPID", appA, "WECHAT_SECRET", secretA), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig("t", tc.args, envOf(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.WechatApps, want) || c.WechatAppID != appA || c.WechatSecret != secretA {
				t.Fatalf("apps = %v, default %s", c.WechatApps, c.WechatAppID)
			}
		})
	}

	t.Run("PushPairs", func(t *testing.T) {
		// The default app's from WECHAT_PUSH_*, the second's from its entry.
		c, err := parseConfig("t", nil, envOf(env("WECHAT_APPS", appA+":"+secretA+","+appB+":"+secretB+":"+pushToken+"B:"+pushKeyB,
			"WECHAT_PUSH_TOKEN", pushToken, "WECHAT_PUSH_AES_KEY", pushKey)), io.Discard)
		wantPush := []WechatApp{{AppID: appA, Secret: secretA, PushToken: pushToken, PushAESKey: pushKey}, {AppID: appB, Secret: secretB, PushToken: pushToken + "B", PushAESKey: pushKeyB}}
		if err != nil || !slices.Equal(c.WechatApps, wantPush) {
			t.Fatalf("apps = %v, err %v", c.WechatApps, err)
		}
		// A token without a key (plaintext only), in the entry; the same
		// pair given twice for the default app.
		c, err = parseConfig("t", nil, envOf(env("WECHAT_APPS", appA+":"+secretA+":"+pushToken+":,"+appB+":"+secretB,
			"WECHAT_PUSH_TOKEN", pushToken)), io.Discard)
		if err != nil || c.WechatApps[0].PushToken != pushToken || c.WechatApps[0].PushAESKey != "" || c.WechatApps[1].PushToken != "" {
			t.Fatalf("apps = %v, err %v", c.WechatApps, err)
		}
		// One app, without WECHAT_APPS.
		c, err = parseConfig("t", nil, envOf(env("WECHAT_APPID", appB, "WECHAT_SECRET", secretB, "WECHAT_PUSH_TOKEN", pushToken, "WECHAT_PUSH_AES_KEY", pushKey)), io.Discard)
		if err != nil || !slices.Equal(c.WechatApps, []WechatApp{{AppID: appB, Secret: secretB, PushToken: pushToken, PushAESKey: pushKey}}) {
			t.Fatalf("apps = %v, err %v", c.WechatApps, err)
		}
	})

	t.Run("SingleAppIsTheList", func(t *testing.T) {
		c, err := parseConfig("t", nil, envOf(env("WECHAT_APPID", appB, "WECHAT_SECRET", secretB)), io.Discard)
		if err != nil || !slices.Equal(c.WechatApps, []WechatApp{{AppID: appB, Secret: secretB}}) {
			t.Fatalf("apps = %v, err %v", c.WechatApps, err)
		}
	})

	t.Run("DevModeSimulatesEveryApp", func(t *testing.T) {
		c, err := parseConfig("t", nil, envOf(env("DEV_WECHAT", "1", "WECHAT_APPS", apps)), io.Discard)
		// Dev mode makes up a push pair for each app, for its simulator.
		var bare []WechatApp
		for _, a := range c.WechatApps {
			if _, err := wechat.NewPusher(a.AppID, a.PushToken, a.PushAESKey); err != nil {
				t.Fatalf("%s: no usable push pair: %v", a.AppID, err)
			}
			bare = append(bare, WechatApp{AppID: a.AppID, Secret: a.Secret})
		}
		if err != nil || !slices.Equal(bare, want) || c.WechatAppID != appA || slices.ContainsFunc(c.generated, func(s string) bool { return strings.Contains(s, "WECHAT") }) {
			t.Fatalf("apps = %v, generated %v, err %v", c.WechatApps, c.generated, err)
		}
	})

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"BadAppID", env("WECHAT_APPID", "wxabc", "WECHAT_SECRET", secretA), "WECHAT_APPID must be wx followed by 16"},
		{"SecretAsAppID", env("WECHAT_APPID", secretA, "WECHAT_SECRET", secretA), "WECHAT_APPID must be"},
		{"UpperCaseAppID", env("WECHAT_APPS", "wx0123456789ABCDEF:"+secretA), "entry 1: the appid must be wx"},
		{"EmptyEntry", env("WECHAT_APPS", apps+","), "entry 3 is empty"},
		{"NoColon", env("WECHAT_APPS", appA+":"+secretA+","+secretB), "entry 2 is not appid:secret"},
		{"SwappedOrder", env("WECHAT_APPS", secretA+":"+appA), "entry 1: the appid must be"},
		{"EmptySecret", env("WECHAT_APPS", appA+":"), "entry 1 (" + appA + "): the secret must be"},
		{"SpaceInSecret", env("WECHAT_APPS", appA+":"+secretA+" x"), "entry 1 (" + appA + "): the secret must be"},
		{"Duplicate", env("WECHAT_APPS", apps+","+appA+":"+secretB), "WECHAT_APPS lists " + appA + " twice"},
		{"AppIDNotFirst", env("WECHAT_APPS", apps, "WECHAT_APPID", appB), "WECHAT_APPID must be " + appA},
		{"AppIDUnlisted", env("WECHAT_APPS", apps, "WECHAT_APPID", secretB), "WECHAT_APPID disagrees with WECHAT_APPS"},
		{"OtherSecret", env("WECHAT_APPS", apps, "WECHAT_APPID", appA, "WECHAT_SECRET", secretB), "WECHAT_SECRET differs"},
		{"SecretWithoutAppID", env("WECHAT_APPS", apps, "WECHAT_SECRET", secretA), "WECHAT_SECRET is set without WECHAT_APPID"},
		{"ThreeFields", env("WECHAT_APPS", appA+":"+secretA+":"+pushToken), "entry 1 is not appid:secret or appid:secret:pushtoken:pushaeskey"},
		{"FiveFields", env("WECHAT_APPS", appA+":"+secretA+":"+pushToken+":"+pushKey+":x"), "entry 1 is not appid:secret"},
		{"BadPushToken", env("WECHAT_APPS", appA+":"+secretA+":t!:"+pushKey), "entry 1: the push token must be"},
		{"EmptyPushToken", env("WECHAT_APPS", appA+":"+secretA+"::"+pushKey), "entry 1: the push token must be"},
		{"ShortPushKey", env("WECHAT_APPS", appA+":"+secretA+":"+pushToken+":"+pushKey[1:]), "entry 1: the push EncodingAESKey must be"},
		{"PushPairsDisagree", env("WECHAT_APPS", appA+":"+secretA+":"+pushToken+":"+pushKey, "WECHAT_PUSH_TOKEN", "other"+pushToken), "WECHAT_PUSH_TOKEN and WECHAT_PUSH_AES_KEY differ"},
		{"PushKeyWithoutToken", env("WECHAT_APPS", apps, "WECHAT_PUSH_AES_KEY", pushKey), "WECHAT_PUSH_AES_KEY is set without WECHAT_PUSH_TOKEN"},
		{"PushTokenShort", env("WECHAT_APPS", apps, "WECHAT_PUSH_TOKEN", "ab"), "WECHAT_PUSH_TOKEN must be 3 to 32"},
		{"PushKey42", env("WECHAT_APPS", apps, "WECHAT_PUSH_TOKEN", pushToken, "WECHAT_PUSH_AES_KEY", pushKey[:42]), "WECHAT_PUSH_AES_KEY: an EncodingAESKey is 43 characters"},
		{"PushKeyNotBase64", env("WECHAT_APPS", apps, "WECHAT_PUSH_TOKEN", pushToken, "WECHAT_PUSH_AES_KEY", pushKey[:42]+"-"), "WECHAT_PUSH_AES_KEY: an EncodingAESKey is 43 characters of base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("t", nil, envOf(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			for _, secret := range []string{secretA, secretB, pushToken, pushKey, pushKey[:42], pushKey[1:]} {
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err prints a secret or spans lines: %q", err)
				}
			}
		})
	}
}

// TestDefaultConfig_IsWhatParsingNothingGives: DefaultConfig and parseConfig
// read the one settings table, so a Config built by hand from DefaultConfig
// is the one an environment that sets only the required settings makes.
func TestDefaultConfig_IsWhatParsingNothingGives(t *testing.T) {
	t.Parallel()
	parsed, err := parseConfig("t", nil, envOf(map[string]string{
		"DATABASE_URL": "postgres://localhost/x", "WECHAT_APPID": "wx0123456789abcdef", "WECHAT_SECRET": "s", "SECRET_KEY": goodKey, "PUBLIC_URL": "https://api.example.com",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.DatabaseURL, c.WechatAppID, c.WechatSecret, c.PublicURL = "postgres://localhost/x", "wx0123456789abcdef", "s", "https://api.example.com"
	if c.SecretKey, err = auth.ParseSecretKey(goodKey); err != nil {
		t.Fatal(err)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%#v", c) != fmt.Sprintf("%#v", parsed) {
		t.Fatalf("DefaultConfig, checked:\n%#v\nparseConfig:\n%#v", c, parsed)
	}
	if c.RequestTimeout != 30*time.Second || c.StartupTimeout != time.Minute || c.ShutdownTimeout != 20*time.Second ||
		c.AdminDBMaxConns != 4 || c.AdminStatementTimeout != 5*time.Second || c.RateLimits.LoginPerIP.N != 600 {
		t.Fatalf("defaults = %+v", c)
	}
}

// TestSettings_ListsEveryFlag: Settings, what the configuration document
// is checked against, is exactly the flags `wxlogin serve -h` prints.
func TestSettings_ListsEveryFlag(t *testing.T) {
	t.Parallel()
	var usage bytes.Buffer
	if _, err := parseConfig("wxlogin serve", []string{"-h"}, envOf(nil), &usage); err == nil {
		t.Fatal("-h parsed")
	}
	envs := map[string]bool{}
	for _, s := range Settings() {
		if s.Env == "" || s.Flag == "" || s.Usage == "" || envs[s.Env] {
			t.Errorf("setting %+v: empty or twice", s)
		}
		envs[s.Env] = true
		if !strings.Contains(usage.String(), "-"+s.Flag+" "+s.Env+"\n") {
			t.Errorf("-h does not list -%s %s", s.Flag, s.Env)
		}
	}
	if n := strings.Count(usage.String(), "\n  -"); n != len(envs) {
		t.Errorf("-h lists %d flags, Settings %d", n, len(envs))
	}
}

func TestParseConfig_RateLimits(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://localhost/x", "DEV_WECHAT": "1"}
	c, err := parseConfig("t", nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := RateLimits{
		LoginPerIP:          ratelimit.Limit{N: 600, Window: time.Minute},
		LoginPerOpenID:      ratelimit.Limit{N: 30, Window: 10 * time.Minute},
		BindPhonePerUser:    ratelimit.Limit{N: 10, Window: time.Hour},
		UploadAvatarPerUser: ratelimit.Limit{N: 20, Window: time.Hour},
		PushRefusedPerIP:    ratelimit.Limit{N: 30, Window: time.Minute},
	}
	if c.RateLimits != want || c.RedisURL != "" || c.RedisKeyPrefix != ratelimit.DefaultRedisPrefix {
		t.Fatalf("defaults: %+v, redis %q %q", c.RateLimits, c.RedisURL, c.RedisKeyPrefix)
	}
	with := func(k, v string) map[string]string {
		m := maps.Clone(env)
		m[k] = v
		return m
	}
	c, err = parseConfig("t", nil, envOf(with("RATE_LOGIN_PER_IP", "off")), io.Discard)
	if err != nil || !c.RateLimits.LoginPerIP.Off() {
		t.Fatalf("off: %+v, %v", c.RateLimits, err)
	}
	c, err = parseConfig("t", []string{"-redis-url", "rediss://:pw@redis.example.com:6380/2"}, envOf(env), io.Discard)
	if err != nil || c.RedisURL == "" {
		t.Fatalf("rediss: %v", err)
	}
	for k, v := range map[string]string{
		"RATE_LOGIN_PER_IP":           "lots",
		"RATE_LOGIN_PER_OPENID":       "0/1m",
		"RATE_BIND_PHONE_PER_USER":    "10/100ms",
		"RATE_UPLOAD_AVATAR_PER_USER": "10",
		"REDIS_URL":                   "http://:hunter2@127.0.0.1:6379",
	} {
		_, err := parseConfig("t", nil, envOf(with(k, v)), io.Discard)
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error quotes a password: %v", k, err)
		}
	}
	_, err = parseConfig("t", nil, envOf(with("REDIS_URL", "redis://:hunter2@127.0.0.1:6379/x")), io.Discard)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad database number: %v", err)
	}
}

func TestParseConfig_QueryLimits(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{"DATABASE_URL": "postgres://localhost/x", "DEV_WECHAT": "1"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return envOf(m)
	}

	c, err := parseConfig("t", nil, env(), io.Discard)
	if err != nil || c.QueryLimits != gqlhttp.DefaultLimits {
		t.Fatalf("defaults: %+v, %v", c.QueryLimits, err)
	}

	c, err = parseConfig("t", []string{"-query-max-depth", "9", "-query-max-tokens", "5000"},
		env("QUERY_MAX_DEPTH", "3", "QUERY_MAX_COMPLEXITY", "4000", "QUERY_MAX_ALIASES", "5",
			"QUERY_MAX_FIELDS", "100", "QUERY_MAX_DIRECTIVES", "7"), io.Discard)
	want := gqlhttp.DefaultLimits
	want.MaxDepth, want.MaxTokens, want.MaxComplexity, want.MaxAliases, want.MaxFields, want.MaxDirectives = 9, 5000, 4000, 5, 100, 7
	if err != nil || c.QueryLimits != want {
		t.Fatalf("given: %+v, %v", c.QueryLimits, err)
	}

	for _, bad := range [][2]string{
		{"QUERY_MAX_DEPTH", "0"}, {"QUERY_MAX_DEPTH", "101"}, {"QUERY_MAX_COMPLEXITY", "-1"}, {"QUERY_MAX_COMPLEXITY", "1e6"},
		{"QUERY_MAX_ALIASES", "many"}, {"QUERY_MAX_FIELDS", "1001"}, {"QUERY_MAX_TOKENS", "20001"}, {"QUERY_MAX_DIRECTIVES", "0"},
	} {
		_, err := parseConfig("t", nil, env(bad[0], bad[1]), io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), bad[0]+" must be a number from 1 to ") {
			t.Errorf("%s=%s: %v", bad[0], bad[1], err)
		}
	}
}

// TestParseConfig_ContentCheck: on by default outside dev mode, where it
// needs PUBLIC_URL (WeChat fetches avatars there) and start-up says so;
// off by default in dev mode.
func TestParseConfig_ContentCheck(t *testing.T) {
	t.Parallel()
	prod := func(kv ...string) map[string]string {
		m := map[string]string{"DATABASE_URL": "postgres://localhost/x", "WECHAT_APPID": "wx0123456789abcdef", "WECHAT_SECRET": "s", "SECRET_KEY": goodKey}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		on   bool
		err  string
	}{
		{"DefaultOn", prod("PUBLIC_URL", "https://api.example.com"), true, ""},
		{"OnWithoutPublicURL", prod(), false, "PUBLIC_URL is required when CONTENT_CHECK is on"},
		{"ExplicitOnWithoutPublicURL", prod("CONTENT_CHECK", "on"), false, "PUBLIC_URL is required when CONTENT_CHECK is on"},
		{"OffWithoutPublicURL", prod("CONTENT_CHECK", "off"), false, ""},
		{"DevDefaultOff", map[string]string{"DEV_WECHAT": "1", "DATABASE_URL": "postgres://localhost/x"}, false, ""},
		{"DevOnWithoutPublicURL", map[string]string{"DEV_WECHAT": "1", "DATABASE_URL": "postgres://localhost/x", "CONTENT_CHECK": "on"}, true, ""},
		{"BadValue", prod("CONTENT_CHECK", "yes"), false, "CONTENT_CHECK must be on or off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig("t", nil, envOf(tc.env), io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || c.ContentCheck != tc.on {
				t.Fatalf("ContentCheck = %v, %v; want %v", c.ContentCheck, err, tc.on)
			}
		})
	}
}
