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
	"time"

	"wxlogin/auth"
	"wxlogin/edge"
	"wxlogin/graph"
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
	WechatApps    []WechatApp
	WechatAPIBase string
	WechatTimeout time.Duration
	SessionTTL    time.Duration
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
	// QueryLimits bound each GraphQL request: graph.DefaultLimits, with
	// the QUERY_MAX_* settings.
	QueryLimits graph.Limits
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
	// RateLimits are the per-client limits; zero Limits (as in a Config
	// built without parseConfig) are off.
	RateLimits RateLimits

	// ShutdownTimeout bounds the drain after SIGTERM or SIGINT: requests
	// still in flight then are cut off. DefaultShutdownTimeout when zero.
	ShutdownTimeout time.Duration
	// ShutdownDelay is how long, after the signal, the server goes on
	// serving while /readyz answers 503, so that load balancers stop
	// sending before it closes its idle connections; zero for none.
	ShutdownDelay time.Duration

	// generated lists the dev values made up because they were not given.
	generated []string
}

// WechatApp is one mini program of the WeChat open platform account.
type WechatApp struct {
	AppID  string
	Secret string
}

// RateLimits are the limits of the public API's costly mutations.
// adminLogin has its own, fixed brute-force limits (see package admin).
type RateLimits struct {
	LoginPerIP, LoginPerOpenID, BindPhonePerUser, UploadAvatarPerUser ratelimit.Limit
}

// setting is one configuration value: its flag, its environment variable and
// a default that is always a constant, never read from the environment, so
// that usage text (-h, or any flag error) cannot print a secret.
type setting struct {
	flag, env, def, usage string
	value                 *string
}

// parseConfig reads the environment (through getenv) and then the flags in args.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var (
		c                                                 Config
		port, timeout, ttl, secretKey, dev, devPublic     string
		previousKeys                                      string
		maxConns, stmtTimeout, reqTimeout, startupTimeout string
		adminMaxConns, adminStmtTimeout                   string
		logLevel, adminTTL, adminIdle, apps               string
		qDepth, qComplexity, qAliases, qFields            string
		qTokens, qDirectives                              string
		proxies, origins                                  string
		rateIP, rateOpenID, ratePhone, rateAvatar         string
		shutdownTimeout, shutdownDelay                    string
		cacheTTL, cacheSize, prepare                      string
	)
	d := graph.DefaultLimits
	settings := []setting{
		{"database-url", "DATABASE_URL", "", "PostgreSQL URL", &c.DatabaseURL},
		{"host", "HOST", "", "interface to listen on; empty for all, 127.0.0.1 in dev mode", &c.Host},
		{"port", "PORT", "8080", "TCP port to listen on; 0 picks a free one", &port},
		{"wechat-appid", "WECHAT_APPID", "", "the mini program's appid", &c.WechatAppID},
		{"wechat-secret", "WECHAT_SECRET", "", "the mini program's app secret", &c.WechatSecret},
		{"wechat-apps", "WECHAT_APPS", "", "several mini programs as appid:secret,appid:secret; the first is the default", &apps},
		{"wechat-api-base", "WECHAT_API_BASE", "", "WeChat API origin; default " + wechat.DefaultBaseURL + ", or the built-in simulator in dev mode", &c.WechatAPIBase},
		{"wechat-timeout", "WECHAT_TIMEOUT", "5s", "timeout of one WeChat API call", &timeout},
		{"session-ttl", "SESSION_TTL", "720h", "session lifetime, e.g. 720h or 30d", &ttl},
		{"admin-session-ttl", "ADMIN_SESSION_TTL", "12h", "admin session lifetime", &adminTTL},
		{"admin-idle-timeout", "ADMIN_IDLE_TIMEOUT", "1h", "an admin session unused this long ends", &adminIdle},
		{"secret-key", "SECRET_KEY", "", "32 random bytes as 64 hex chars or base64; seals session_keys at rest", &secretKey},
		{"secret-key-previous", "SECRET_KEY_PREVIOUS", "", "during a SECRET_KEY rotation: old (or next) keys, comma-separated, that open values sealed under them but never seal", &previousKeys},
		{"dev-wechat", "DEV_WECHAT", "", "1 mounts the WeChat simulator, playground and introspection: never in production", &dev},
		{"dev-wechat-unsafe-public", "DEV_WECHAT_UNSAFE_PUBLIC", "", "1 lets dev mode listen beyond loopback, where anyone could mint logins for any user", &devPublic},
		{"db-max-conns", "DB_MAX_CONNS", "20", "database connections per instance, all kept idle when unused", &maxConns},
		{"db-prepare", "DB_PREPARE", "on", "off stops prepared statements, for PgBouncer in transaction mode without max_prepared_statements", &prepare},
		{"session-cache-ttl", "SESSION_CACHE_TTL", "5s", "how long a resolved session is reused without the database (a revocation still reaches every instance within 1 s at worst, by LISTEN/NOTIFY); 0 turns the cache off", &cacheTTL},
		{"session-cache-size", "SESSION_CACHE_SIZE", "50000", "most sessions cached per instance (about 1 KiB each)", &cacheSize},
		{"db-statement-timeout", "DB_STATEMENT_TIMEOUT", "10s", "PostgreSQL statement_timeout while serving; the server cancels longer statements", &stmtTimeout},
		{"admin-db-max-conns", "ADMIN_DB_MAX_CONNS", strconv.Itoa(DefaultAdminDBMaxConns), "database connections per instance for the admin API, a pool apart from DB_MAX_CONNS so admin queries never take users' connections", &adminMaxConns},
		{"admin-statement-timeout", "ADMIN_STATEMENT_TIMEOUT", DefaultAdminStatementTimeout.String(), "PostgreSQL statement_timeout of the admin API's connections; a longer search is stopped with QUERY_TIMEOUT", &adminStmtTimeout},
		{"request-timeout", "REQUEST_TIMEOUT", "30s", "deadline of every request; at least 2×WECHAT_TIMEOUT + 11s, so a login fits", &reqTimeout},
		{"startup-timeout", "STARTUP_TIMEOUT", "60s", "deadline for connecting to and migrating the database at start", &startupTimeout},
		{"shutdown-timeout", "SHUTDOWN_TIMEOUT", "20s", "on SIGTERM or SIGINT, how long requests in flight may finish before they are cut off", &shutdownTimeout},
		{"shutdown-delay", "SHUTDOWN_DELAY", "0s", "on SIGTERM or SIGINT, how long to go on serving with /readyz failing before the drain, so a load balancer stops sending first (its check interval × fall count)", &shutdownDelay},
		{"log-level", "LOG_LEVEL", "info", "debug, info, warn or error", &logLevel},
		{"log-format", "LOG_FORMAT", "", "text or json; json unless DEV_WECHAT=1, then text", &c.LogFormat},
		{"metrics-addr", "METRICS_ADDR", "", "host:port of a listener of its own for /metrics, e.g. 127.0.0.1:9090; empty serves /metrics on the main listener only with METRICS_TOKEN (or in dev mode), off nowhere", &c.MetricsAddr},
		{"metrics-token", "METRICS_TOKEN", "", "bearer token /metrics asks for (at least 16 characters); none when empty", &c.MetricsToken},
		{"avatar-dir", "AVATAR_DIR", ".data/avatars", "folder for uploaded avatars, shared by every instance (a network filesystem) or one per instance behind sticky routing", &c.AvatarDir},
		{"public-url", "PUBLIC_URL", "", "origin clients reach this server at, e.g. https://api.example.com; makes avatar URLs absolute", &c.PublicURL},
		{"query-max-depth", "QUERY_MAX_DEPTH", strconv.Itoa(d.MaxDepth), "deepest nesting of a GraphQL operation, fragments expanded", &qDepth},
		{"query-max-complexity", "QUERY_MAX_COMPLEXITY", strconv.Itoa(d.MaxComplexity), "complexity limit of a GraphQL operation (README, Limits, has the costs)", &qComplexity},
		{"query-max-aliases", "QUERY_MAX_ALIASES", strconv.Itoa(d.MaxAliases), "aliases in a GraphQL document", &qAliases},
		{"query-max-fields", "QUERY_MAX_FIELDS", strconv.Itoa(d.MaxFields), "fields in a GraphQL document, and in an operation with its fragments expanded", &qFields},
		{"query-max-tokens", "QUERY_MAX_TOKENS", strconv.Itoa(d.MaxTokens), "lexer tokens in a GraphQL document", &qTokens},
		{"query-max-directives", "QUERY_MAX_DIRECTIVES", strconv.Itoa(d.MaxDirectives), "directives in a GraphQL document", &qDirectives},
		{"trusted-proxies", "TRUSTED_PROXIES", "", "addresses and CIDR prefixes of the proxies in front, e.g. 10.0.0.0/8,127.0.0.1, whose X-Forwarded-For and X-Forwarded-Proto are believed; none when empty", &proxies},
		{"cors-origins", "CORS_ORIGINS", "", "browser origins allowed to call /graphql from another site, e.g. https://admin.example.com; none when empty", &origins},
		{"redis-url", "REDIS_URL", "", "Redis for the rate limits, redis:// or rediss:// (TLS, certificate verified); unset keeps them in PostgreSQL", &c.RedisURL},
		{"redis-key-prefix", "REDIS_KEY_PREFIX", ratelimit.DefaultRedisPrefix, "start of every rate-limit key in Redis, to share one Redis between deployments", &c.RedisKeyPrefix},
		{"rate-login-per-ip", "RATE_LOGIN_PER_IP", "600/1m", "logins per client IPv4 address or IPv6 /64, as N/window, or off", &rateIP},
		{"rate-login-per-openid", "RATE_LOGIN_PER_OPENID", "30/10m", "logins per mini program user, as N/window, or off", &rateOpenID},
		{"rate-bind-phone-per-user", "RATE_BIND_PHONE_PER_USER", "10/1h", "bindPhoneNumber calls per user, as N/window, or off", &ratePhone},
		{"rate-upload-avatar-per-user", "RATE_UPLOAD_AVATAR_PER_USER", "20/1h", "uploadAvatar calls per user, as N/window, or off", &rateAvatar},
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, st := range settings {
		fs.StringVar(st.value, st.flag, st.def, st.usage+" (`"+st.env+"`)")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, st := range settings {
		if v := getenv(st.env); v != "" && !given[st.flag] {
			*st.value = v
		}
	}

	var err error
	if c.DevWechat, err = parseBool(dev); err != nil {
		return c, fmt.Errorf("DEV_WECHAT: %w", err)
	}
	if c.DevWechatPublic, err = parseBool(devPublic); err != nil {
		return c, fmt.Errorf("DEV_WECHAT_UNSAFE_PUBLIC: %w", err)
	}
	if c.DBPrepare, err = parseBool(prepare); err != nil {
		return c, fmt.Errorf("DB_PREPARE: %w", err)
	}
	if c.Port, err = strconv.Atoi(port); err != nil || c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("PORT must be a port number, not %q", port)
	}
	durations := []struct {
		name string
		in   string
		out  *time.Duration
	}{
		{"WECHAT_TIMEOUT", timeout, &c.WechatTimeout},
		{"DB_STATEMENT_TIMEOUT", stmtTimeout, &c.DBStatementTimeout},
		{"ADMIN_STATEMENT_TIMEOUT", adminStmtTimeout, &c.AdminStatementTimeout},
		{"REQUEST_TIMEOUT", reqTimeout, &c.RequestTimeout},
		{"STARTUP_TIMEOUT", startupTimeout, &c.StartupTimeout},
		{"SHUTDOWN_TIMEOUT", shutdownTimeout, &c.ShutdownTimeout},
		{"ADMIN_SESSION_TTL", adminTTL, &c.AdminSessionTTL},
		{"ADMIN_IDLE_TIMEOUT", adminIdle, &c.AdminIdleTimeout},
	}
	for _, d := range durations {
		if *d.out, err = time.ParseDuration(d.in); err != nil || *d.out <= 0 {
			return c, fmt.Errorf("%s must be a duration like 5s, not %q", d.name, d.in)
		}
	}
	if c.ShutdownDelay, err = time.ParseDuration(shutdownDelay); err != nil || c.ShutdownDelay < 0 || c.ShutdownDelay > 5*time.Minute {
		return c, fmt.Errorf("SHUTDOWN_DELAY must be a duration from 0s to 5m, not %q", shutdownDelay)
	}
	if c.SessionTTL, err = parseDays(ttl); err != nil || c.SessionTTL <= 0 {
		return c, fmt.Errorf("SESSION_TTL must be a duration like 720h or 30d, not %q", ttl)
	}
	if c.SessionCacheTTL, err = time.ParseDuration(cacheTTL); err != nil || c.SessionCacheTTL < 0 || c.SessionCacheTTL > time.Minute {
		return c, fmt.Errorf("SESSION_CACHE_TTL must be a duration from 0 to 1m, not %q", cacheTTL)
	}
	if c.SessionCacheSize, err = strconv.Atoi(cacheSize); err != nil || c.SessionCacheSize < 1 {
		return c, fmt.Errorf("SESSION_CACHE_SIZE must be a positive number, not %q", cacheSize)
	}
	if c.DBMaxConns, err = strconv.Atoi(maxConns); err != nil || c.DBMaxConns < 1 {
		return c, fmt.Errorf("DB_MAX_CONNS must be a positive number, not %q", maxConns)
	}
	if c.AdminDBMaxConns, err = strconv.Atoi(adminMaxConns); err != nil || c.AdminDBMaxConns < 1 {
		return c, fmt.Errorf("ADMIN_DB_MAX_CONNS must be a positive number, not %q", adminMaxConns)
	}
	// Upper bounds past which a limit no longer protects: validation is
	// quadratic in fields (8,000 took 8 s), the parser stops at 1,000 levels,
	// and the 64 KiB body holds some 30,000 tokens.
	c.QueryLimits = d
	for _, q := range []struct {
		name, in string
		out      *int
		max      int
	}{
		{"QUERY_MAX_DEPTH", qDepth, &c.QueryLimits.MaxDepth, 100},
		{"QUERY_MAX_COMPLEXITY", qComplexity, &c.QueryLimits.MaxComplexity, 1_000_000},
		{"QUERY_MAX_ALIASES", qAliases, &c.QueryLimits.MaxAliases, 1000},
		{"QUERY_MAX_FIELDS", qFields, &c.QueryLimits.MaxFields, 1000},
		{"QUERY_MAX_TOKENS", qTokens, &c.QueryLimits.MaxTokens, 20000},
		{"QUERY_MAX_DIRECTIVES", qDirectives, &c.QueryLimits.MaxDirectives, 1000},
	} {
		if *q.out, err = strconv.Atoi(q.in); err != nil || *q.out < 1 || *q.out > q.max {
			return c, fmt.Errorf("%s must be a number from 1 to %d, not %q", q.name, q.max, q.in)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return c, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", logLevel)
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if c.DevWechat {
			c.LogFormat = "text"
		}
	}
	if c.MetricsAddr != "" && c.MetricsAddr != "off" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return c, fmt.Errorf("METRICS_ADDR must be host:port (e.g. 127.0.0.1:9090), empty or off, not %q", c.MetricsAddr)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return c, errors.New("METRICS_TOKEN must be at least 16 characters")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("LOG_FORMAT must be text or json, not %q", c.LogFormat)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			return c, errors.New("PUBLIC_URL must be an origin like https://api.example.com (no path, query or credentials)")
		}
		c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	}
	if c.TrustedProxies, err = edge.ParseProxies(proxies); err != nil {
		return c, fmt.Errorf("TRUSTED_PROXIES %w", err)
	}
	if c.CORSOrigins, err = edge.ParseOrigins(origins); err != nil {
		return c, fmt.Errorf("CORS_ORIGINS %w", err)
	}
	for _, l := range []struct {
		name string
		in   string
		out  *ratelimit.Limit
	}{
		{"RATE_LOGIN_PER_IP", rateIP, &c.RateLimits.LoginPerIP},
		{"RATE_LOGIN_PER_OPENID", rateOpenID, &c.RateLimits.LoginPerOpenID},
		{"RATE_BIND_PHONE_PER_USER", ratePhone, &c.RateLimits.BindPhonePerUser},
		{"RATE_UPLOAD_AVATAR_PER_USER", rateAvatar, &c.RateLimits.UploadAvatarPerUser},
	} {
		if *l.out, err = ratelimit.ParseLimit(l.in); err != nil {
			return c, fmt.Errorf("%s: %w", l.name, err)
		}
	}
	if c.RedisURL != "" {
		if err := ratelimit.CheckRedisURL(c.RedisURL); err != nil {
			return c, err
		}
	}
	if c.AvatarDir == "" {
		return c, errors.New("AVATAR_DIR must name a folder")
	}
	if min := minRequestTimeout(c.WechatTimeout); c.RequestTimeout < min {
		return c, fmt.Errorf("REQUEST_TIMEOUT (%v) must be at least %v: a login may wait on WeChat twice (2×WECHAT_TIMEOUT plus a pause) and then record the session (%v)",
			c.RequestTimeout, min, auth.DefaultRecordTimeout)
	}
	// Shorter, so that a stopped admin query still gets its QUERY_TIMEOUT
	// answer out before the request's own deadline cuts it off.
	if c.AdminStatementTimeout >= c.RequestTimeout {
		return c, fmt.Errorf("ADMIN_STATEMENT_TIMEOUT (%v) must be shorter than REQUEST_TIMEOUT (%v)", c.AdminStatementTimeout, c.RequestTimeout)
	}
	if secretKey != "" {
		if c.SecretKey, err = auth.ParseSecretKey(secretKey); err != nil {
			return c, err
		}
	}
	if c.PreviousSecretKeys, err = auth.ParsePreviousSecretKeys(previousKeys); err != nil {
		return c, err
	}
	if err := c.parseWechatApps(apps); err != nil {
		return c, err
	}
	if c.DevWechat {
		c.fillDevDefaults()
		if !isLoopbackHost(c.Host) && !c.DevWechatPublic {
			return c, fmt.Errorf("DEV_WECHAT=1 refuses HOST=%s: its simulator lets anyone mint a login for any user; listen on 127.0.0.1, or set DEV_WECHAT_UNSAFE_PUBLIC=1 on a network that is yours alone", c.Host)
		}
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
	if len(c.WechatApps) == 0 {
		c.WechatApps = []WechatApp{{AppID: c.WechatAppID, Secret: c.WechatSecret}}
	}
	if c.DatabaseURL == "" {
		return c, errors.New("DATABASE_URL is required (make run finds or starts a local PostgreSQL for you)")
	}
	return c, nil
}

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
	if s == "" {
		if c.WechatAppID != "" && !validAppID(c.WechatAppID) {
			return errors.New("WECHAT_APPID must be " + appIDRule)
		}
		return nil
	}
	seen := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		appID, secret, ok := strings.Cut(entry, ":")
		switch {
		case entry == "":
			return fmt.Errorf("WECHAT_APPS entry %d is empty: want appid:secret,appid:secret", i+1)
		case !ok:
			return fmt.Errorf("WECHAT_APPS entry %d is not appid:secret", i+1)
		case !validAppID(appID):
			return fmt.Errorf("WECHAT_APPS entry %d: the appid must be %s", i+1, appIDRule)
		case !validSecret(secret):
			return fmt.Errorf("WECHAT_APPS entry %d (%s): the secret must be non-empty printable ASCII without spaces", i+1, appID)
		case seen[appID]:
			return fmt.Errorf("WECHAT_APPS lists %s twice", appID)
		}
		seen[appID] = true
		c.WechatApps = append(c.WechatApps, WechatApp{AppID: appID, Secret: secret})
	}
	first := c.WechatApps[0]
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
// the one WechatAppID names when a Config is built without parseConfig.
func (c Config) wechatApps() []WechatApp {
	if len(c.WechatApps) > 0 {
		return c.WechatApps
	}
	return []WechatApp{{AppID: c.WechatAppID, Secret: c.WechatSecret}}
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
