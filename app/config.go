package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"wxlogin/auth"
	"wxlogin/edge"
	"wxlogin/gqlhttp"
	"wxlogin/ratelimit"
	"wxlogin/wechat"
)

// DevAppID is the appid dev mode uses when WECHAT_APPID is unset. It is fixed
// so that the simulator's openids — and so dev users — survive restarts.
const DevAppID = "wxdev0000000000001"

// Config is everything the server reads from its environment. Each setting is
// an environment variable and a flag of the same meaning; a flag wins.
type Config struct {
	DatabaseURL string
	Host        string
	Port        int
	// WechatAppID and WechatSecret are the default mini program's: the
	// first of WechatApps.
	WechatAppID  string
	WechatSecret string
	// WechatApps are every mini program logins may name (LoginInput.appId),
	// the default first. Empty means just WechatAppID.
	WechatApps []WechatApp
	// WechatPushToken and WechatPushAESKey are the default app's message
	// push Token and EncodingAESKey (WECHAT_PUSH_TOKEN, WECHAT_PUSH_AES_KEY);
	// check copies them into its WechatApp. Other apps set theirs in
	// WECHAT_APPS.
	WechatPushToken  string
	WechatPushAESKey string
	WechatAPIBase    string
	WechatTimeout    time.Duration
	SessionTTL       time.Duration
	// AdminSessionTTL and AdminIdleTimeout bound admin dashboard sessions.
	AdminSessionTTL  time.Duration
	AdminIdleTimeout time.Duration
	SecretKey        []byte
	// PreviousSecretKeys (SECRET_KEY_PREVIOUS) open values sealed under
	// them but never seal: the keys of a SECRET_KEY rotation.
	PreviousSecretKeys [][]byte
	DevWechat          bool
	// DevWechatPublic lets dev mode listen beyond loopback.
	DevWechatPublic bool
	DBMaxConns      int
	// DBPrepare lets the store prepare its hottest statements (DB_PREPARE).
	DBPrepare bool
	// SessionCacheTTL bounds how long a resolved session is reused without
	// asking PostgreSQL (revocations arrive by LISTEN/NOTIFY at once; this
	// bounds only profile staleness); 0 turns the cache off.
	SessionCacheTTL time.Duration
	// SessionCacheSize caps the cached sessions.
	SessionCacheSize int
	// DBStatementTimeout is PostgreSQL's statement_timeout for serving.
	DBStatementTimeout time.Duration
	// AdminDBMaxConns sizes the admin API's own pool, apart from the one
	// users' requests take connections from, so that slow admin queries
	// queue behind each other and never behind a login or me.
	AdminDBMaxConns int
	// AdminStatementTimeout is the statement_timeout of the admin pool:
	// shorter than DBStatementTimeout, since an admin search that runs
	// longer should be narrowed rather than waited for.
	AdminStatementTimeout time.Duration
	// AdminExportMaxRows bounds the rows of one users CSV export.
	AdminExportMaxRows int
	// AdminRequireTOTP (ADMIN_REQUIRE_TOTP) makes every admin set up
	// two-step sign-in: until they have, their sessions may only enrol.
	AdminRequireTOTP bool
	// RequestTimeout is every request's deadline; see minRequestTimeout.
	RequestTimeout time.Duration
	// StartupTimeout bounds connecting and migrating at start.
	StartupTimeout time.Duration
	LogLevel       slog.Level
	// LogFormat is text or json: json by default, text in dev mode.
	LogFormat string
	// MetricsAddr is where /metrics listens apart (host:port), "" for the
	// main listener, "off" for nowhere; MetricsToken, when set, is the
	// bearer token /metrics asks for.
	MetricsAddr  string
	MetricsToken string
	// AvatarDir is the folder uploaded avatars are kept in.
	AvatarDir string
	// PublicURL is the origin clients reach this server at, to make uploaded
	// avatars' URLs absolute; empty leaves them paths.
	PublicURL string
	// QueryLimits bound each GraphQL request: gqlhttp.DefaultLimits, with
	// the QUERY_MAX_* settings.
	QueryLimits gqlhttp.Limits
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed; none by default.
	TrustedProxies edge.Proxies
	// CORSOrigins are the browser origins allowed to call /graphql from
	// another site; none by default.
	CORSOrigins []string

	// RedisURL, when set, keeps rate limits in Redis instead of PostgreSQL,
	// their keys starting with RedisKeyPrefix (ratelimit.DefaultRedisPrefix
	// when empty).
	RedisURL       string
	RedisKeyPrefix string
	// RateLimits are the per-client limits; a zero Limit is off.
	RateLimits RateLimits

	// ShutdownTimeout bounds the drain after SIGTERM or SIGINT: requests
	// still in flight then are cut off.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long, after the signal, the server goes on
	// serving while /readyz answers 503, so that load balancers stop
	// sending before it closes its idle connections; zero for none.
	ShutdownDelay time.Duration

	// StatsZone is STATS_TIME_ZONE: the days the admin statistics count
	// (newUsers, activeUsers, loginsPerDay) are this zone's days.
	StatsZone *time.Location

	// PolicyVersion is the privacy policy version users must accept
	// (acceptPolicy); empty tracks no consent.
	PolicyVersion string
	// AccountDeleteGrace is the cooling-off period of deleteAccount: the
	// account is erased this long after the request unless its user signs
	// in again; zero erases at once.
	AccountDeleteGrace time.Duration

	// ContentCheck has nicknames and avatars checked by WeChat's content
	// security (CONTENT_CHECK): on by default outside dev mode. Avatars
	// are checked at PublicURL, which it then requires (dev mode uses the
	// server's own address when PUBLIC_URL is unset).
	ContentCheck bool
	// contentCheckSpec is CONTENT_CHECK as given, "" for the default;
	// check resolves it into ContentCheck.
	contentCheckSpec string

	// generated lists the dev values made up because they were not given.
	generated []string
	// wechatAppsSpec is WECHAT_APPS as given, read into WechatApps by check.
	wechatAppsSpec string
}

// WechatApp is one mini program of the WeChat open platform account.
type WechatApp struct {
	AppID  string
	Secret string
	// PushToken and PushAESKey are its message push Token and
	// EncodingAESKey: /wechat/push/{appid} answers 404 without a Token,
	// and takes plaintext messages only without a key.
	PushToken  string
	PushAESKey string
}

// RateLimits are the limits of the public API's costly mutations.
// adminLogin has its own, fixed brute-force limits (see package admin).
type RateLimits struct {
	LoginPerIP, LoginPerOpenID, BindPhonePerUser, UploadAvatarPerUser ratelimit.Limit
	// PushRefusedPerIP counts only refused pushes to /wechat/push/ (see
	// push.Service.refuse): one that verifies is never limited.
	PushRefusedPerIP ratelimit.Limit
}

// Setting is one configuration value of `wxlogin serve` as an operator
// sees it: an environment variable and a flag of the same meaning (a flag
// wins), with its default and a one-line usage. Default is always a
// constant, never read from the environment, so that usage text (-h, or
// any flag error) cannot print a secret.
type Setting struct {
	Env, Flag, Default, Usage string
}

// setting is a Setting with how it is read into a Config.
type setting struct {
	Setting
	// set parses v, the value of the setting named env, into the Config
	// the table was made for; its errors name env and never quote a secret.
	set func(env, v string) error
}

// settingsOf is the table of every setting, read into c: the one place a
// setting's name, flag, default and meaning are spelled.
func settingsOf(c *Config) []setting {
	d := gqlhttp.DefaultLimits
	row := func(flag, env, def, usage string, set func(env, v string) error) setting {
		return setting{Setting{Env: env, Flag: flag, Default: def, Usage: usage}, set}
	}
	return []setting{
		row("database-url", "DATABASE_URL", "", "PostgreSQL URL", text(&c.DatabaseURL)),
		row("host", "HOST", "", "interface to listen on; empty for all, 127.0.0.1 in dev mode", text(&c.Host)),
		row("port", "PORT", "8080", "TCP port to listen on; 0 picks a free one", func(env, v string) error {
			p, err := strconv.Atoi(v)
			if err != nil || p < 0 || p > 65535 {
				return fmt.Errorf("%s must be a port number, not %q", env, v)
			}
			c.Port = p
			return nil
		}),
		row("wechat-appid", "WECHAT_APPID", "", "the mini program's appid", text(&c.WechatAppID)),
		row("wechat-secret", "WECHAT_SECRET", "", "the mini program's app secret", text(&c.WechatSecret)),
		row("wechat-apps", "WECHAT_APPS", "", "several mini programs as appid:secret,appid:secret (or appid:secret:pushtoken:pushaeskey, with its message push pair); the first is the default", text(&c.wechatAppsSpec)),
		row("wechat-push-token", "WECHAT_PUSH_TOKEN", "", "the default mini program's message push Token (3 to 32 letters and digits, as set in its console); unset, /wechat/push/{appid} answers 404", func(env, v string) error {
			if v != "" && !wechat.ValidPushToken(v) {
				return fmt.Errorf("%s must be 3 to 32 letters and digits, as WeChat's console takes it", env)
			}
			c.WechatPushToken = v
			return nil
		}),
		row("wechat-push-aes-key", "WECHAT_PUSH_AES_KEY", "", "the default mini program's message push EncodingAESKey (43 characters), for safe mode; unset takes plaintext pushes only", func(env, v string) error {
			if v != "" {
				if _, err := wechat.ParseEncodingAESKey(v); err != nil {
					return fmt.Errorf("%s: %w", env, err)
				}
			}
			c.WechatPushAESKey = v
			return nil
		}),
		row("wechat-api-base", "WECHAT_API_BASE", "", "WeChat API origin; default "+wechat.DefaultBaseURL+", or the built-in simulator in dev mode", text(&c.WechatAPIBase)),
		row("wechat-timeout", "WECHAT_TIMEOUT", "5s", "timeout of one WeChat API call", duration(&c.WechatTimeout)),
		row("session-ttl", "SESSION_TTL", "720h", "session lifetime, e.g. 720h or 30d", func(env, v string) error {
			ttl, err := parseDays(v)
			if err != nil || ttl <= 0 {
				return fmt.Errorf("%s must be a duration like 720h or 30d, not %q", env, v)
			}
			c.SessionTTL = ttl
			return nil
		}),
		row("admin-session-ttl", "ADMIN_SESSION_TTL", "12h", "admin session lifetime", duration(&c.AdminSessionTTL)),
		row("admin-idle-timeout", "ADMIN_IDLE_TIMEOUT", "1h", "an admin session unused this long ends", duration(&c.AdminIdleTimeout)),
		row("secret-key", "SECRET_KEY", "", "32 random bytes as 64 hex chars or base64; seals session_keys at rest", func(_, v string) (err error) {
			c.SecretKey = nil
			if v != "" {
				c.SecretKey, err = auth.ParseSecretKey(v)
			}
			return err
		}),
		row("secret-key-previous", "SECRET_KEY_PREVIOUS", "", "during a SECRET_KEY rotation: old (or next) keys, comma-separated, that open values sealed under them but never seal", func(_, v string) (err error) {
			c.PreviousSecretKeys, err = auth.ParsePreviousSecretKeys(v)
			return err
		}),
		row("dev-wechat", "DEV_WECHAT", "", "1 mounts the WeChat simulator, playground and introspection: never in production", boolean(&c.DevWechat)),
		row("dev-wechat-unsafe-public", "DEV_WECHAT_UNSAFE_PUBLIC", "", "1 lets dev mode listen beyond loopback, where anyone could mint logins for any user", boolean(&c.DevWechatPublic)),
		row("db-max-conns", "DB_MAX_CONNS", "20", "database connections per instance, all kept idle when unused", positive(&c.DBMaxConns)),
		row("db-prepare", "DB_PREPARE", "on", "off stops prepared statements, for PgBouncer in transaction mode without max_prepared_statements", boolean(&c.DBPrepare)),
		row("session-cache-ttl", "SESSION_CACHE_TTL", "5s", "how long a resolved session is reused without the database (a revocation still reaches every instance within 1 s at worst, by LISTEN/NOTIFY); 0 turns the cache off", upToDuration(&c.SessionCacheTTL, time.Minute, "0 to 1m")),
		row("session-cache-size", "SESSION_CACHE_SIZE", "50000", "most sessions cached per instance (about 1 KiB each)", positive(&c.SessionCacheSize)),
		row("db-statement-timeout", "DB_STATEMENT_TIMEOUT", "10s", "PostgreSQL statement_timeout while serving; the server cancels longer statements", duration(&c.DBStatementTimeout)),
		row("admin-db-max-conns", "ADMIN_DB_MAX_CONNS", "4", "database connections per instance for the admin API, a pool apart from DB_MAX_CONNS so admin queries never take users' connections", positive(&c.AdminDBMaxConns)),
		row("admin-statement-timeout", "ADMIN_STATEMENT_TIMEOUT", "5s", "PostgreSQL statement_timeout of the admin API's connections; a longer search is stopped with QUERY_TIMEOUT", duration(&c.AdminStatementTimeout)),
		row("stats-time-zone", "STATS_TIME_ZONE", "Asia/Shanghai", "IANA time zone whose days the admin statistics count (newUsers, activeUsers, loginsPerDay), e.g. Asia/Shanghai or UTC", func(env, v string) error {
			loc, err := loadZone(v)
			if err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
			c.StatsZone = loc
			return nil
		}),
		row("admin-export-max-rows", "ADMIN_EXPORT_MAX_ROWS", "1000000", "most rows of one users CSV export (GET /admin/export/users.csv); a longer listing is cut at this many, and the audit entry says so", positive(&c.AdminExportMaxRows)),
		row("admin-require-totp", "ADMIN_REQUIRE_TOTP", "", "on: every admin must use two-step sign-in (TOTP); one without it signs in to a session that may only set it up", boolean(&c.AdminRequireTOTP)),
		row("request-timeout", "REQUEST_TIMEOUT", "30s", "deadline of every request; at least 2×WECHAT_TIMEOUT + 11s, so a login fits", duration(&c.RequestTimeout)),
		row("startup-timeout", "STARTUP_TIMEOUT", "60s", "deadline for connecting to and migrating the database at start", duration(&c.StartupTimeout)),
		row("shutdown-timeout", "SHUTDOWN_TIMEOUT", "20s", "on SIGTERM or SIGINT, how long requests in flight may finish before they are cut off", duration(&c.ShutdownTimeout)),
		row("shutdown-delay", "SHUTDOWN_DELAY", "0s", "on SIGTERM or SIGINT, how long to go on serving with /readyz failing before the drain, so a load balancer stops sending first (its check interval × fall count)", upToDuration(&c.ShutdownDelay, 5*time.Minute, "0s to 5m")),
		row("log-level", "LOG_LEVEL", "info", "debug, info, warn or error", func(env, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("%s must be debug, info, warn or error, not %q", env, v)
			}
			return nil
		}),
		row("log-format", "LOG_FORMAT", "", "text or json; json unless DEV_WECHAT=1, then text", func(env, v string) error {
			if v != "" && v != "text" && v != "json" {
				return fmt.Errorf("%s must be text or json, not %q", env, v)
			}
			c.LogFormat = v
			return nil
		}),
		row("metrics-addr", "METRICS_ADDR", "", "host:port of a listener of its own for /metrics, e.g. 127.0.0.1:9090; empty serves /metrics on the main listener only with METRICS_TOKEN (or in dev mode), off nowhere", func(env, v string) error {
			if v != "" && v != "off" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("%s must be host:port (e.g. 127.0.0.1:9090), empty or off, not %q", env, v)
				}
			}
			c.MetricsAddr = v
			return nil
		}),
		row("metrics-token", "METRICS_TOKEN", "", "bearer token /metrics asks for (at least 16 characters); none when empty", func(env, v string) error {
			if v != "" && len(v) < 16 {
				return errors.New(env + " must be at least 16 characters")
			}
			c.MetricsToken = v
			return nil
		}),
		row("avatar-dir", "AVATAR_DIR", ".data/avatars", "folder for uploaded avatars, shared by every instance (a network filesystem) or one per instance behind sticky routing", func(env, v string) error {
			if v == "" {
				return errors.New(env + " must name a folder")
			}
			c.AvatarDir = v
			return nil
		}),
		row("public-url", "PUBLIC_URL", "", "origin clients reach this server at, e.g. https://api.example.com; makes avatar URLs absolute", func(env, v string) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
					return errors.New(env + " must be an origin like https://api.example.com (no path, query or credentials)")
				}
			}
			c.PublicURL = strings.TrimSuffix(v, "/")
			return nil
		}),
		// Upper bounds past which a limit no longer protects: validation is
		// quadratic in fields (8,000 took 8 s), the parser stops at 1,000
		// levels, and the 64 KiB body holds some 30,000 tokens.
		row("query-max-depth", "QUERY_MAX_DEPTH", strconv.Itoa(d.MaxDepth), "deepest nesting of a GraphQL operation, fragments expanded", upTo(&c.QueryLimits.MaxDepth, 100)),
		row("query-max-complexity", "QUERY_MAX_COMPLEXITY", strconv.Itoa(d.MaxComplexity), "complexity limit of a GraphQL operation (docs/security.md, Limits, has the costs)", upTo(&c.QueryLimits.MaxComplexity, 1_000_000)),
		row("query-max-aliases", "QUERY_MAX_ALIASES", strconv.Itoa(d.MaxAliases), "aliases in a GraphQL document", upTo(&c.QueryLimits.MaxAliases, 1000)),
		row("query-max-fields", "QUERY_MAX_FIELDS", strconv.Itoa(d.MaxFields), "fields in a GraphQL document, and in an operation with its fragments expanded", upTo(&c.QueryLimits.MaxFields, 1000)),
		row("query-max-tokens", "QUERY_MAX_TOKENS", strconv.Itoa(d.MaxTokens), "lexer tokens in a GraphQL document", upTo(&c.QueryLimits.MaxTokens, 20000)),
		row("query-max-directives", "QUERY_MAX_DIRECTIVES", strconv.Itoa(d.MaxDirectives), "directives in a GraphQL document", upTo(&c.QueryLimits.MaxDirectives, 1000)),
		row("trusted-proxies", "TRUSTED_PROXIES", "", "addresses and CIDR prefixes of the proxies in front, e.g. 10.0.0.0/8,127.0.0.1, whose X-Forwarded-For and X-Forwarded-Proto are believed; none when empty", func(env, v string) (err error) {
			if c.TrustedProxies, err = edge.ParseProxies(v); err != nil {
				return fmt.Errorf("%s %w", env, err)
			}
			return nil
		}),
		row("cors-origins", "CORS_ORIGINS", "", "browser origins allowed to call /graphql from another site, e.g. https://admin.example.com; none when empty", func(env, v string) (err error) {
			if c.CORSOrigins, err = edge.ParseOrigins(v); err != nil {
				return fmt.Errorf("%s %w", env, err)
			}
			return nil
		}),
		row("redis-url", "REDIS_URL", "", "Redis for the rate limits, redis:// or rediss:// (TLS, certificate verified); unset keeps them in PostgreSQL", func(_, v string) error {
			if v != "" {
				if err := ratelimit.CheckRedisURL(v); err != nil {
					return err
				}
			}
			c.RedisURL = v
			return nil
		}),
		row("redis-key-prefix", "REDIS_KEY_PREFIX", ratelimit.DefaultRedisPrefix, "start of every rate-limit key in Redis, to share one Redis between deployments", text(&c.RedisKeyPrefix)),
		row("rate-login-per-ip", "RATE_LOGIN_PER_IP", "600/1m", "logins per client IPv4 address or IPv6 /64, as N/window, or off", limit(&c.RateLimits.LoginPerIP)),
		row("rate-login-per-openid", "RATE_LOGIN_PER_OPENID", "30/10m", "logins per mini program user, as N/window, or off", limit(&c.RateLimits.LoginPerOpenID)),
		row("rate-bind-phone-per-user", "RATE_BIND_PHONE_PER_USER", "10/1h", "bindPhoneNumber calls per user, as N/window, or off", limit(&c.RateLimits.BindPhonePerUser)),
		row("rate-upload-avatar-per-user", "RATE_UPLOAD_AVATAR_PER_USER", "20/1h", "uploadAvatar calls per user, as N/window, or off", limit(&c.RateLimits.UploadAvatarPerUser)),
		row("rate-push-refused-per-ip", "RATE_PUSH_REFUSED_PER_IP", "30/1m", "refused pushes to /wechat/push/ (bad signature, replay, malformed) per client IPv4 address or IPv6 /64 before it is answered 429; a push that verifies is never limited; as N/window, or off", limit(&c.RateLimits.PushRefusedPerIP)),
		row("content-check", "CONTENT_CHECK", "", "on or off: WeChat's content security checks of nicknames (msgSecCheck) and uploaded avatars (mediaCheckAsync, which fetches them from PUBLIC_URL); on unless DEV_WECHAT=1", func(env, v string) error {
			if v != "" && v != "on" && v != "off" {
				return fmt.Errorf("%s must be on or off, not %q", env, v)
			}
			c.contentCheckSpec = v
			c.ContentCheck = v == "on"
			return nil
		}),
		row("policy-version", "POLICY_VERSION", "", "version of the privacy policy and terms the mini program shows, e.g. 2026-11; users who accepted another are asked again (User.consentRequired); unset tracks no consent", func(env, v string) error {
			if len(v) > auth.MaxPolicyVersion || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return fmt.Errorf("%s must be at most %d characters without spaces or control characters", env, auth.MaxPolicyVersion)
			}
			c.PolicyVersion = v
			return nil
		}),
		row("account-delete-grace", "ACCOUNT_DELETE_GRACE", "168h", "cooling-off period of deleteAccount, e.g. 168h or 15d: a login before it ends cancels the deletion; 0 erases at once; at most 8760h", func(env, v string) error {
			d, err := parseDays(v)
			if err != nil || d < 0 || d > MaxAccountDeleteGrace {
				return fmt.Errorf("%s must be a duration from 0 to 8760h (or 365d), like 168h or 15d, not %q", env, v)
			}
			c.AccountDeleteGrace = d
			return nil
		}),
	}
}

// MaxAccountDeleteGrace bounds ACCOUNT_DELETE_GRACE: a year. PIPL asks
// for deletion without delay once the user asks; a cooling-off period is
// the user's chance to change their mind, not a retention period.
const MaxAccountDeleteGrace = 365 * 24 * time.Hour

// text, duration, upToDuration, positive, boolean, upTo and limit read
// one kind of setting into *p.
func text(p *string) func(env, v string) error {
	return func(_, v string) error { *p = v; return nil }
}

func duration(p *time.Duration) func(env, v string) error {
	return func(env, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s must be a duration like 5s, not %q", env, v)
		}
		*p = d
		return nil
	}
}

// upToDuration reads a duration from 0 (off) to max; span says so in
// its errors, as the settings' documentation spells it.
func upToDuration(p *time.Duration, max time.Duration, span string) func(env, v string) error {
	return func(env, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > max {
			return fmt.Errorf("%s must be a duration from %s, not %q", env, span, v)
		}
		*p = d
		return nil
	}
}

func positive(p *int) func(env, v string) error {
	return func(env, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%s must be a positive number, not %q", env, v)
		}
		*p = n
		return nil
	}
}

func boolean(p *bool) func(env, v string) error {
	return func(env, v string) (err error) {
		if *p, err = parseBool(v); err != nil {
			return fmt.Errorf("%s: %w", env, err)
		}
		return nil
	}
}

func upTo(p *int, max int) func(env, v string) error {
	return func(env, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > max {
			return fmt.Errorf("%s must be a number from 1 to %d, not %q", env, max, v)
		}
		*p = n
		return nil
	}
}

func limit(p *ratelimit.Limit) func(env, v string) error {
	return func(env, v string) (err error) {
		if *p, err = ratelimit.ParseLimit(v); err != nil {
			return fmt.Errorf("%s: %w", env, err)
		}
		return nil
	}
}

// Settings lists every setting of `wxlogin serve`, in the order -h prints
// them: what the configuration documentation must list.
func Settings() []Setting {
	var out []Setting
	for _, s := range settingsOf(&Config{}) {
		out = append(out, s.Setting)
	}
	return out
}

// DefaultConfig is the Config of an environment that sets nothing: every
// setting at its default. parseConfig starts from it, and so do tests that
// build a Config by hand. It is not yet runnable: WECHAT_APPID,
// WECHAT_SECRET, SECRET_KEY and DATABASE_URL have no default.
func DefaultConfig() Config {
	// The query limits without a setting of their own keep graph's.
	c := Config{QueryLimits: gqlhttp.DefaultLimits}
	for _, s := range settingsOf(&c) {
		if err := s.set(s.Env, s.Default); err != nil {
			panic("wxlogin: the default of " + s.Env + " is invalid: " + err.Error())
		}
	}
	return c
}

// parseConfig reads the environment (through getenv) and then the flags in
// args over DefaultConfig.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := DefaultConfig()
	settings := settingsOf(&c)
	flags := make([]string, len(settings))
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for i, st := range settings {
		// The string is read after the environment: a flag wins.
		fs.StringVar(&flags[i], st.Flag, st.Default, st.Usage+" (`"+st.Env+"`)")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for i, st := range settings {
		v, ok := flags[i], given[st.Flag]
		if !ok {
			v = getenv(st.Env)
			ok = v != ""
		}
		if !ok {
			continue
		}
		if err := st.set(st.Env, v); err != nil {
			return c, err
		}
	}
	return c, c.check()
}

// check validates what no single setting can on its own, and fills in what
// depends on other settings (dev mode's made-up values, the log format).
func (c *Config) check() error {
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if c.DevWechat {
			c.LogFormat = "text"
		}
	}
	if min := minRequestTimeout(c.WechatTimeout); c.RequestTimeout < min {
		return fmt.Errorf("REQUEST_TIMEOUT (%v) must be at least %v: a login may wait on WeChat twice (2×WECHAT_TIMEOUT plus a pause) and then record the session (%v)",
			c.RequestTimeout, min, auth.DefaultRecordTimeout)
	}
	// Shorter, so that a stopped admin query still gets its QUERY_TIMEOUT
	// answer out before the request's own deadline cuts it off.
	if c.AdminStatementTimeout >= c.RequestTimeout {
		return fmt.Errorf("ADMIN_STATEMENT_TIMEOUT (%v) must be shorter than REQUEST_TIMEOUT (%v)", c.AdminStatementTimeout, c.RequestTimeout)
	}
	if err := c.parseWechatApps(c.wechatAppsSpec); err != nil {
		return err
	}
	if c.contentCheckSpec == "" {
		c.ContentCheck = !c.DevWechat
	}

	if c.DevWechat {
		c.fillDevDefaults()
		if !isLoopbackHost(c.Host) && !c.DevWechatPublic {
			return fmt.Errorf("DEV_WECHAT=1 refuses HOST=%s: its simulator lets anyone mint a login for any user; listen on 127.0.0.1, or set DEV_WECHAT_UNSAFE_PUBLIC=1 on a network that is yours alone", c.Host)
		}
	} else {
		switch {
		case c.WechatAppID == "":
			return errors.New("WECHAT_APPID is required (or DEV_WECHAT=1 to run against the built-in WeChat simulator)")
		case c.WechatSecret == "":
			return errors.New("WECHAT_SECRET is required (or DEV_WECHAT=1 to run against the built-in WeChat simulator)")
		case c.SecretKey == nil:
			return errors.New("SECRET_KEY is required: 32 random bytes, e.g. from `openssl rand -hex 32` (or DEV_WECHAT=1 for a throw-away one)")
		}
		if c.WechatAPIBase == "" {
			c.WechatAPIBase = wechat.DefaultBaseURL
		}
	}
	if len(c.WechatApps) == 0 {
		c.WechatApps = []WechatApp{{AppID: c.WechatAppID, Secret: c.WechatSecret, PushToken: c.WechatPushToken, PushAESKey: c.WechatPushAESKey}}
	}
	if c.DevWechat {
		c.fillDevPush()
	}
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required (make run finds or starts a local PostgreSQL for you)")
	}
	if c.ContentCheck && c.PublicURL == "" && !c.DevWechat {
		return errors.New(errPublicURLForChecks)
	}
	return nil
}

// errPublicURLForChecks is the start-up's refusal of content checks
// without PUBLIC_URL.
const errPublicURLForChecks = "PUBLIC_URL is required when CONTENT_CHECK is on (the default outside dev mode): WeChat fetches each uploaded avatar from it to check it. Set PUBLIC_URL to the origin WeChat reaches this server at, or CONTENT_CHECK=off"

// appIDRule says what validAppID accepts, for error messages.
const appIDRule = "wx followed by 16 lowercase letters or digits, as WeChat issues them"

// validAppID reports whether s looks like an appid WeChat issues:
// "wx" and 16 lowercase hex digits (letters beyond f allowed, as in DevAppID).
func validAppID(s string) bool {
	if len(s) != 18 || !strings.HasPrefix(s, "wx") {
		return false
	}
	for _, b := range []byte(s[2:]) {
		if (b < '0' || b > '9') && (b < 'a' || b > 'z') {
			return false
		}
	}
	return true
}

// validSecret reports whether s can be an app secret: printable ASCII
// without spaces (WeChat's are 32 hex digits).
func validSecret(s string) bool {
	for _, b := range []byte(s) {
		if b <= ' ' || b > '~' {
			return false
		}
	}
	return s != ""
}

// parseWechatApps checks WECHAT_APPID and reads WECHAT_APPS (given as s)
// into c.WechatApps. With both set, WECHAT_APPID must name the first app of
// WECHAT_APPS, the default, and WECHAT_SECRET (if set) be its secret: a
// deployment moving to several apps can add WECHAT_APPS before removing
// the old pair, but the two can never disagree about the default app.
// Errors never quote a secret, nor text that might be one.
func (c *Config) parseWechatApps(s string) error {
	if c.WechatPushAESKey != "" && c.WechatPushToken == "" {
		return errors.New("WECHAT_PUSH_AES_KEY is set without WECHAT_PUSH_TOKEN: WeChat signs every push with the Token")
	}
	if s == "" {
		if c.WechatAppID != "" && !validAppID(c.WechatAppID) {
			return errors.New("WECHAT_APPID must be " + appIDRule)
		}
		return nil
	}
	seen := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		// appid:secret, or appid:secret:token:aeskey with the app's
		// message push pair (aeskey may be empty: plaintext only). No
		// field can hold a colon: WeChat's secrets are hex, tokens letters
		// and digits, keys base64 without padding.
		parts := strings.Split(entry, ":")
		appID, secret, ok := parts[0], "", len(parts) == 2 || len(parts) == 4
		if ok {
			secret = parts[1]
		}
		var token, key string
		if len(parts) == 4 {
			token, key = parts[2], parts[3]
		}
		switch {
		case entry == "":
			return fmt.Errorf("WECHAT_APPS entry %d is empty: want appid:secret,appid:secret", i+1)
		case !ok:
			return fmt.Errorf("WECHAT_APPS entry %d is not appid:secret or appid:secret:pushtoken:pushaeskey", i+1)
		case len(parts) == 4 && !wechat.ValidPushToken(token):
			return fmt.Errorf("WECHAT_APPS entry %d: the push token must be 3 to 32 letters and digits", i+1)
		case key != "" && !validPushKey(key):
			return fmt.Errorf("WECHAT_APPS entry %d: the push EncodingAESKey must be 43 characters of base64", i+1)
		case !validAppID(appID):
			return fmt.Errorf("WECHAT_APPS entry %d: the appid must be %s", i+1, appIDRule)
		case !validSecret(secret):
			return fmt.Errorf("WECHAT_APPS entry %d (%s): the secret must be non-empty printable ASCII without spaces", i+1, appID)
		case seen[appID]:
			return fmt.Errorf("WECHAT_APPS lists %s twice", appID)
		}
		seen[appID] = true
		c.WechatApps = append(c.WechatApps, WechatApp{AppID: appID, Secret: secret, PushToken: token, PushAESKey: key})
	}
	first := &c.WechatApps[0]
	switch {
	case c.WechatPushToken != "" && first.PushToken != "" && (c.WechatPushToken != first.PushToken || c.WechatPushAESKey != first.PushAESKey):
		return fmt.Errorf("WECHAT_PUSH_TOKEN and WECHAT_PUSH_AES_KEY differ from the push pair WECHAT_APPS gives %s: unset one of them", first.AppID)
	case c.WechatPushToken != "":
		first.PushToken, first.PushAESKey = c.WechatPushToken, c.WechatPushAESKey
	}
	switch {
	case c.WechatAppID != "" && c.WechatAppID != first.AppID:
		return fmt.Errorf("WECHAT_APPID disagrees with WECHAT_APPS: with both set, WECHAT_APPID must be %s, the first (default) app of WECHAT_APPS; or unset it", first.AppID)
	case c.WechatSecret != "" && c.WechatAppID == "":
		return errors.New("WECHAT_SECRET is set without WECHAT_APPID, but WECHAT_APPS gives every app's secret: unset WECHAT_SECRET")
	case c.WechatSecret != "" && c.WechatSecret != first.Secret:
		return fmt.Errorf("WECHAT_SECRET differs from the secret WECHAT_APPS gives %s: unset one of them", first.AppID)
	}
	c.WechatAppID, c.WechatSecret = first.AppID, first.Secret
	return nil
}

// minRequestTimeout is the longest a login can take: two WeChat calls (the
// busy retry) with the pause between them, then recording the session. A
// shorter request deadline could cut a login after WeChat spent its code.
func minRequestTimeout(wechatTimeout time.Duration) time.Duration {
	return 2*wechatTimeout + wechat.DefaultRetryBackoff*3/2 + auth.DefaultRecordTimeout + time.Second
}

// wechatApps returns every mini program, the default first: WechatApps, or
// the one WechatAppID names when WechatApps is unset (as DefaultConfig
// leaves it, for a Config filled in by hand).
func (c Config) wechatApps() []WechatApp {
	if len(c.WechatApps) > 0 {
		return c.WechatApps
	}
	return []WechatApp{{AppID: c.WechatAppID, Secret: c.WechatSecret, PushToken: c.WechatPushToken, PushAESKey: c.WechatPushAESKey}}
}

// validPushKey reports whether s is an EncodingAESKey.
func validPushKey(s string) bool {
	_, err := wechat.ParseEncodingAESKey(s)
	return err == nil
}

// writeTimeout outlasts the request deadline, so a response finished just
// before it still reaches the client.
func (c Config) writeTimeout() time.Duration { return c.RequestTimeout + 5*time.Second }

// isLoopbackHost reports whether listening on host keeps the server on this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

// fillDevPush gives every app without a message push pair a random one,
// so that the simulator can sign and encrypt pushes to this server in dev
// mode (POST /dev/wechat/push) without the developer configuring any.
func (c *Config) fillDevPush() {
	c.WechatApps = c.wechatApps()
	for i := range c.WechatApps {
		a := &c.WechatApps[i]
		if a.PushToken != "" {
			continue
		}
		a.PushToken, a.PushAESKey = randomAlnum(32), randomAlnum(wechat.PushKeyLen)
		c.generated = append(c.generated, "message push Token and EncodingAESKey of "+a.AppID+" (random)")
	}
}

// randomAlnum returns n random letters and digits, as WeChat's console
// makes push Tokens and EncodingAESKeys.
func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
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

// loadZone reads an IANA time zone name such as Asia/Shanghai. The empty
// name and "Local" are refused though time.LoadLocation takes them: they
// would make the statistics' days those of whatever machine the server
// runs on. The zone data is compiled in (tzdata.go), so a container
// without /usr/share/zoneinfo still knows every zone.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone name such as Asia/Shanghai or UTC", name)
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone name such as Asia/Shanghai or UTC", name)
	}
	loc2, _ := zones.LoadOrStore(name, loc)
	return loc2.(*time.Location), nil
}

// zones keeps each zone loadZone read, so that two Configs of one setting
// hold the same *time.Location and compare equal.
var zones sync.Map
