package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"wxlogin/auth"
	"wxlogin/wechat"
)

// DevAppID is the appid dev mode uses when WECHAT_APPID is unset. It is fixed
// so that the simulator's openids — and so dev users — survive restarts.
const DevAppID = "wxdev0000000000001"

// Config is everything the server reads from its environment. Each setting is
// an environment variable and a flag of the same meaning; a flag wins.
type Config struct {
	DatabaseURL   string
	Host          string
	Port          int
	WechatAppID   string
	WechatSecret  string
	WechatAPIBase string
	WechatTimeout time.Duration
	SessionTTL    time.Duration
	SecretKey     []byte
	DevWechat     bool
	DBMaxConns    int
	LogLevel      slog.Level
	LogFormat     string

	// generated lists the dev values made up because they were not given.
	generated []string
}

// parseConfig reads the environment (through getenv) and then the flags in args.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var (
		c                                  Config
		port, timeout, ttl, secretKey, dev string
		maxConns, logLevel                 string
	)
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "PostgreSQL URL (`DATABASE_URL`)")
	fs.StringVar(&c.Host, "host", env("HOST", ""), "interface to listen on; empty for all, 127.0.0.1 in dev mode (`HOST`)")
	fs.StringVar(&port, "port", env("PORT", "8080"), "TCP port to listen on; 0 picks a free one (`PORT`)")
	fs.StringVar(&c.WechatAppID, "wechat-appid", env("WECHAT_APPID", ""), "the mini program's appid (`WECHAT_APPID`)")
	fs.StringVar(&c.WechatSecret, "wechat-secret", env("WECHAT_SECRET", ""), "the mini program's app secret (`WECHAT_SECRET`)")
	fs.StringVar(&c.WechatAPIBase, "wechat-api-base", env("WECHAT_API_BASE", ""), "WeChat API origin; default "+wechat.DefaultBaseURL+", or the built-in simulator in dev mode (`WECHAT_API_BASE`)")
	fs.StringVar(&timeout, "wechat-timeout", env("WECHAT_TIMEOUT", "5s"), "timeout of one WeChat API call (`WECHAT_TIMEOUT`)")
	fs.StringVar(&ttl, "session-ttl", env("SESSION_TTL", "720h"), "session lifetime, e.g. 720h or 30d (`SESSION_TTL`)")
	fs.StringVar(&secretKey, "secret-key", env("SECRET_KEY", ""), "32 random bytes as 64 hex chars or base64; seals session_keys at rest (`SECRET_KEY`)")
	fs.StringVar(&dev, "dev-wechat", env("DEV_WECHAT", ""), "1 mounts the WeChat simulator, playground and introspection: never in production (`DEV_WECHAT`)")
	fs.StringVar(&maxConns, "db-max-conns", env("DB_MAX_CONNS", "20"), "database connections per instance, all kept idle when unused (`DB_MAX_CONNS`)")
	fs.StringVar(&logLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (`LOG_LEVEL`)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOG_FORMAT", "text"), "text or json (`LOG_FORMAT`)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	var err error
	if c.DevWechat, err = parseBool(dev); err != nil {
		return c, fmt.Errorf("DEV_WECHAT: %w", err)
	}
	if c.Port, err = strconv.Atoi(port); err != nil || c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("PORT must be a port number, not %q", port)
	}
	if c.WechatTimeout, err = time.ParseDuration(timeout); err != nil || c.WechatTimeout <= 0 {
		return c, fmt.Errorf("WECHAT_TIMEOUT must be a duration like 5s, not %q", timeout)
	}
	if c.SessionTTL, err = parseDays(ttl); err != nil || c.SessionTTL <= 0 {
		return c, fmt.Errorf("SESSION_TTL must be a duration like 720h or 30d, not %q", ttl)
	}
	if c.DBMaxConns, err = strconv.Atoi(maxConns); err != nil || c.DBMaxConns < 1 {
		return c, fmt.Errorf("DB_MAX_CONNS must be a positive number, not %q", maxConns)
	}
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return c, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", logLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("LOG_FORMAT must be text or json, not %q", c.LogFormat)
	}
	if secretKey != "" {
		if c.SecretKey, err = auth.ParseSecretKey(secretKey); err != nil {
			return c, err
		}
	}
	if c.DevWechat {
		c.fillDevDefaults()
	} else {
		switch {
		case c.WechatAppID == "":
			return c, errors.New("WECHAT_APPID is required (or DEV_WECHAT=1 to run against the built-in WeChat simulator)")
		case c.WechatSecret == "":
			return c, errors.New("WECHAT_SECRET is required (or DEV_WECHAT=1 to run against the built-in WeChat simulator)")
		case c.SecretKey == nil:
			return c, errors.New("SECRET_KEY is required: 32 random bytes, e.g. from `openssl rand -hex 32` (or DEV_WECHAT=1 for a throw-away one)")
		}
		if c.WechatAPIBase == "" {
			c.WechatAPIBase = wechat.DefaultBaseURL
		}
	}
	if c.DatabaseURL == "" {
		return c, errors.New("DATABASE_URL is required (make run finds or starts a local PostgreSQL for you)")
	}
	return c, nil
}

// fillDevDefaults makes up what dev mode may go without.
func (c *Config) fillDevDefaults() {
	if c.Host == "" {
		// The simulator mints codes for anyone who asks: keep it off the network.
		c.Host = "127.0.0.1"
	}
	if c.WechatAppID == "" {
		c.WechatAppID = DevAppID
		c.generated = append(c.generated, "WECHAT_APPID="+DevAppID)
	}
	if c.WechatSecret == "" {
		c.WechatSecret = randomHex(16)
		c.generated = append(c.generated, "WECHAT_SECRET (random)")
	}
	if c.SecretKey == nil {
		c.SecretKey, _ = hex.DecodeString(randomHex(32))
		c.generated = append(c.generated, "SECRET_KEY (random: session_keys sealed now cannot be opened after a restart)")
	}
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("want 1 or 0, not %q", s)
}

// parseDays is time.ParseDuration that also takes whole days ("30d") and
// bare seconds ("3600").
func parseDays(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
