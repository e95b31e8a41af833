package app

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"wxlogin/admin"
	"wxlogin/auth"
	"wxlogin/blob"
	"wxlogin/edge"
	"wxlogin/gqlhttp"
	"wxlogin/models"
	"wxlogin/profile"
	"wxlogin/push"
	"wxlogin/ratelimit"
	"wxlogin/sessioncache"
	"wxlogin/store"
	"wxlogin/telemetry"
	"wxlogin/web"
	"wxlogin/wechat"
	"wxlogin/wechat/wechattest"
)

// Main is one running server, so tests can start the real program on port 0.
type Main struct {
	Config Config
	Log    *slog.Logger

	// Simulator is the mounted WeChat simulator in dev mode, else nil.
	Simulator *wechattest.Simulator
	// Profile is the profile service, whose MediaVerdict the push of a
	// wxa_media_check event calls (tests call it too).
	Profile *profile.Service
	// Getenv reads the OTEL_ settings; os.Getenv when nil.
	Getenv func(string) string
	// TraceExporter, when set, turns tracing on with spans sent to it (tests).
	TraceExporter sdktrace.SpanExporter
	// EraseUser, when set, replaces the erasure of a
	// user_authorization_cancellation push (auth.Service.EraseUser), for
	// tests.
	EraseUser push.Eraser
	// MediaVerdict, when set, replaces the action on wxa_media_check
	// pushes (Profile.MediaVerdictIn), for tests.
	MediaVerdict push.MediaHook

	metrics         *telemetry.Metrics
	tracing         *telemetry.Tracing
	metricsListener net.Listener
	metricsServer   *http.Server

	store    *store.Store
	listener net.Listener
	server   *http.Server
	// adminStore is the admin API's own pool (ADMIN_DB_MAX_CONNS, with
	// ADMIN_STATEMENT_TIMEOUT) on the same database: a VIEWER's slow
	// searches wait for each other there and never take a connection a
	// login or me needs.
	adminStore *store.Store
	// devAdminPassword is the password of the admin dev mode created, for the banner.
	devAdminPassword string
	// admins is what the banner says about the admin accounts.
	admins bannerAdmin
	// executable is how the banner's commands name this binary; found
	// from os.Executable when empty (tests set it).
	executable string
	// redis is the rate limiter's Redis client when REDIS_URL is set;
	// pgLimits the PostgreSQL limiter otherwise, whose old counters the
	// purge loop deletes.
	redis    *ratelimit.Redis
	pgLimits *ratelimit.Postgres
	// draining is set during SHUTDOWN_DELAY, when /readyz fails.
	draining atomic.Bool
	// SessionCache is the auth service's session cache, nil when off;
	// stopFollow ends the loop that keeps it in step with the database.
	SessionCache *auth.SessionCache
	// AdminSessionCache is the admin service's, on and off with it: one
	// listener keeps both in step (sessioncache.Pair).
	AdminSessionCache *admin.SessionCache
	stopFollow        context.CancelFunc
	followed          chan struct{}
	// stopPurge ends the session purge loop Open starts.
	stopPurge context.CancelFunc
	purged    chan struct{}
	// stopErase ends the erasure job Open starts.
	stopErase context.CancelFunc
	erased    chan struct{}
	// blobs holds uploaded avatars.
	blobs blob.Store
	// stopCount ends the start-up count of values under an old SECRET_KEY.
	stopCount context.CancelFunc
	counted   chan struct{}
}

// Sessions that ended (expired or revoked) are kept sessionRetention for
// forensics, then deleted in batches, hourly, by whichever instances run.
const (
	sessionRetention = 7 * 24 * time.Hour
	purgeEvery       = time.Hour
	purgeBatch       = 1000
	// mediaCheckRetention is how long a media check's row is kept: WeChat's
	// verdict comes within minutes, its retries of a push within seconds.
	mediaCheckRetention = 7 * 24 * time.Hour
)

// Open connects and migrates the database, listens, and wires the handlers;
// Serve then answers requests.
//
// An Open that fails has closed whatever it opened (pools, listeners,
// tracer, Redis): one deferred Close, which takes a half-opened Main.
func (m *Main) Open(ctx context.Context) (err error) {
	if m.Log == nil {
		m.Log = slog.Default()
	}
	defer func() {
		if err != nil {
			_ = m.Close(context.Background())
		}
	}()
	cfg := m.Config
	if err := m.openStore(ctx); err != nil {
		return err
	}
	st := m.store
	if err := m.openTelemetry(ctx, st, m.adminStore); err != nil {
		return err
	}
	if m.listener, err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))); err != nil {
		return err
	}

	mux := http.NewServeMux()
	if cfg.DevWechat {
		m.Simulator = wechattest.New()
		// A Config made by hand (tests) has not been through check.
		m.Config.fillDevPush()
		for _, a := range m.Config.wechatApps() {
			m.Simulator.AddApp(wechattest.App{AppID: a.AppID, Secret: a.Secret, PushToken: a.PushToken, PushAESKey: a.PushAESKey})
		}
		m.Simulator.SetPushTarget(m.URL())
		mux.Handle("/dev/wechat/api/", http.StripPrefix("/dev/wechat/api", m.Simulator.APIHandler()))
		mux.Handle("/dev/wechat/", m.Simulator.MiniProgramHandler())
		// GraphiQL from files built into the binary (web/playground), so
		// the playground works offline and where public CDNs are blocked.
		mux.Handle("/playground/", web.Playground())
		mux.Handle("GET /playground", http.RedirectHandler("/playground/", http.StatusFound))
		mux.Handle("GET /{$}", http.RedirectHandler("/playground/", http.StatusFound))
		if cfg.WechatAPIBase == "" {
			m.Config.WechatAPIBase = m.URL() + "/dev/wechat/api"
		}
		for _, g := range cfg.generated {
			m.Log.Warn("dev mode: generated a throw-away setting", "setting", g)
		}
	}
	// The access token lives in PostgreSQL, shared by every instance.
	tokens, err := auth.NewTokenStore(st, cfg.SecretKey, m.Log, cfg.PreviousSecretKeys...)
	if err != nil {
		return err
	}
	// One WeChat client per mini program; the first is the default.
	var wcs []*wechat.Client
	for _, a := range cfg.wechatApps() {
		wcs = append(wcs, wechat.NewClient(wechat.Config{
			AppID: a.AppID, Secret: wechat.Secret(a.Secret),
			BaseURL: m.Config.WechatAPIBase, Timeout: cfg.WechatTimeout, Tokens: tokens,
			Observe: telemetry.WechatObserver(m.metrics, m.tracing),
		}))
	}
	limits, err := m.openRateLimits(ctx)
	if err != nil {
		return err
	}
	limits.OnLimited(m.metrics.ObserveRateLimited)
	rl := cfg.RateLimits
	if cfg.SessionCacheTTL > 0 {
		m.SessionCache = sessioncache.New[*auth.Caller](cfg.SessionCacheTTL, cfg.SessionCacheSize)
		m.AdminSessionCache = sessioncache.New[*admin.Caller](cfg.SessionCacheTTL, cfg.SessionCacheSize)
	}
	blobs, err := blob.NewDir(cfg.AvatarDir)
	if err != nil {
		return err
	}
	m.blobs = blobs
	svc, err := auth.NewService(st, wcs[0], auth.Config{SessionTTL: cfg.SessionTTL, SecretKey: cfg.SecretKey, PreviousSecretKeys: cfg.PreviousSecretKeys, Logger: m.Log, MoreApps: wcs[1:],
		RateLimits: limits, ObserveLogin: m.metrics.ObserveLogin, Limits: auth.Limits{LoginPerIP: rl.LoginPerIP, LoginPerOpenID: rl.LoginPerOpenID, BindPhonePerUser: rl.BindPhonePerUser},
		Cache: m.SessionCache, PolicyVersion: cfg.PolicyVersion, DeleteGrace: cfg.AccountDeleteGrace, Blobs: blobs})
	if err != nil {
		return err
	}
	// Everything the admin API does runs on its own pool, sign-in and
	// writes included: an admin request waits only for other admin work.
	prof := profile.NewService(st, blobs, m.Log)
	prof.SetRateLimit(limits, rl.UploadAvatarPerUser)
	prof.SetForget(svc.ForgetUser)
	m.Profile = prof
	if err := m.contentCheck(prof, wcs); err != nil {
		return err
	}
	adm := admin.NewService(m.adminStore, admin.Config{SessionTTL: cfg.AdminSessionTTL, IdleTimeout: cfg.AdminIdleTimeout, Logger: m.Log,
		SecretKey: cfg.SecretKey, PreviousSecretKeys: cfg.PreviousSecretKeys, ForgetUser: svc.ForgetUser, Blobs: blobs, StatsZone: cfg.StatsZone,
		ExportMaxRows: cfg.AdminExportMaxRows, DeleteAvatarFile: prof.DeleteFile,
		Cache: m.AdminSessionCache, RequireTOTP: cfg.AdminRequireTOTP})
	if cfg.DevWechat {
		// Dev mode only: a first admin to sign in with, its password shown once.
		if m.devAdminPassword, err = adm.EnsureDevAdmin(ctx); err != nil {
			return err
		}
	}
	if m.admins, err = lookupAdmins(ctx, adm); err != nil {
		return err
	}
	// The dashboard is served in production as in dev mode: it is static
	// files that hold nothing secret and can do only what the API allows.
	mux.Handle("/admin/", web.Admin(profile.ImageSources(cfg.PublicURL)...))
	mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	// The users CSV export: an API call (bearer token, CORS as /graphql's)
	// that streams, which a GraphQL answer cannot.
	mux.Handle(admin.ExportPath, edge.CORS(cfg.CORSOrigins, adm.ExportHandler()))
	mux.Handle(profile.AvatarPath, blob.Handler(blobs, profile.AvatarPath))
	if err := m.mountPush(mux, limits, svc); err != nil {
		return err
	}
	mux.Handle("/graphql", edge.CORS(cfg.CORSOrigins, gqlhttp.NewHandler(gqlhttp.Config{Auth: svc, Admin: adm, Profile: prof, PublicURL: cfg.PublicURL,
		Log: m.Log, DevMode: cfg.DevWechat, Timeout: cfg.RequestTimeout, Limits: cfg.QueryLimits,
		Observe: m.metrics.ObserveOperation, Tracer: m.operationTracer()})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store") // a cache in front must not answer for us
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if m.draining.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	if err := m.serveMetrics(mux); err != nil {
		return err
	}
	m.server = &http.Server{
		// edge.Handler first: the client's address and the headers every response carries.
		Handler:           edge.Handler(cfg.TrustedProxies, telemetry.Middleware(m.metrics, m.tracing, edge.WithRequestID(m.Log, mux))),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ReadTimeout:       15 * time.Second,
		// Handlers end by RequestTimeout (their context's deadline); the
		// write timeout outlasts it so a finished login's token gets out.
		WriteTimeout: cfg.writeTimeout(),
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	purgeCtx, cancel := context.WithCancel(context.Background())
	m.stopPurge, m.purged = cancel, make(chan struct{})
	go m.purgeSessions(purgeCtx)
	eraseCtx, cancel := context.WithCancel(context.Background())
	m.stopErase, m.erased = cancel, make(chan struct{})
	go m.eraseDue(eraseCtx)
	countCtx, cancel := context.WithCancel(context.Background())
	m.stopCount, m.counted = cancel, make(chan struct{})
	go m.countOldSealed(countCtx)
	if m.SessionCache != nil {
		followCtx, cancel := context.WithCancel(context.Background())
		m.stopFollow, m.followed = cancel, make(chan struct{})
		go func() {
			defer close(m.followed)
			sessioncache.Follow(followCtx, st, sessioncache.Pair{Users: m.SessionCache, Admins: m.AdminSessionCache}, m.Log)
		}()
	}
	return nil
}

// contentCheck turns prof's content checks on when CONTENT_CHECK is,
// through the WeChat clients wcs (the default first). WeChat fetches
// avatars at PUBLIC_URL; in dev mode without it, at this server's own
// address, which the simulator reaches (real WeChat would not). A Config
// built without check (tests) that asks for checks without PUBLIC_URL
// outside dev mode fails here as parseConfig would.
func (m *Main) contentCheck(prof *profile.Service, wcs []*wechat.Client) error {
	cfg := m.Config
	if !cfg.ContentCheck {
		m.Log.Info("content checks off (CONTENT_CHECK=off): nicknames and avatars are saved unchecked")
		return nil
	}
	base := cfg.PublicURL
	if base == "" {
		if !cfg.DevWechat {
			return errors.New(errPublicURLForChecks)
		}
		base = m.URL()
	}
	apps := make(map[string]*wechat.Client, len(wcs))
	for _, c := range wcs {
		apps[c.AppID()] = c
	}
	prof.SetContentCheck(profile.ContentCheck{Apps: apps, Default: wcs[0], MediaBase: base})
	if m.Simulator != nil {
		// The simulator delivers its verdicts as WeChat does: a signed,
		// encrypted wxa_media_check event POSTed to /wechat/push/{appid}
		// a second after the upload.
		log := m.Log
		m.Simulator.DeliverMediaChecksByPush(time.Second, func(mc wechattest.MediaCheck, a wechattest.PushAnswer, err error) {
			if err != nil || a.Status != http.StatusOK {
				log.Warn("dev mode: the simulator's media verdict push was not taken", "traceId", mc.TraceID, "status", a.Status, "err", err)
			}
		})
	}
	return nil
}

// openRateLimits returns the rate limits' Guard: over Redis when REDIS_URL
// is set, else over PostgreSQL. A Redis that does not answer at start is a
// warning, not a failure: limits fail open (see ratelimit.Guard) until it
// answers.
func (m *Main) openRateLimits(ctx context.Context) (*ratelimit.Guard, error) {
	cfg := m.Config
	if cfg.RedisURL == "" {
		m.pgLimits = ratelimit.NewPostgres(m.store.DB())
		m.Log.Info("rate limits kept in PostgreSQL", "limits", cfg.RateLimits.String())
		return ratelimit.NewGuard(m.pgLimits, m.Log), nil
	}
	r, err := ratelimit.NewRedis(cfg.RedisURL, cfg.RedisKeyPrefix)
	if err != nil {
		return nil, err
	}
	m.redis = r
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.Ping(ctx); err != nil {
		m.Log.Warn("Redis (REDIS_URL) does not answer: rate limits fail open until it does", "err", err)
	} else {
		m.Log.Info("rate limits kept in Redis", "limits", cfg.RateLimits.String())
	}
	return ratelimit.NewGuard(r, m.Log), nil
}

// String lists the limits for the log.
func (r RateLimits) String() string {
	return fmt.Sprintf("login per IP %v, login per openid %v, bindPhoneNumber per user %v, uploadAvatar per user %v, refused pushes per IP %v",
		r.LoginPerIP, r.LoginPerOpenID, r.BindPhonePerUser, r.UploadAvatarPerUser, r.PushRefusedPerIP)
}

// mountPush serves WeChat's message push, /wechat/push/{appid}, for the
// apps with a push Token (the others answer 404).
func (m *Main) mountPush(mux *http.ServeMux, limits *ratelimit.Guard, svc *auth.Service) error {
	var apps []*wechat.Pusher
	for _, a := range m.Config.wechatApps() {
		if a.PushToken == "" {
			continue
		}
		p, err := wechat.NewPusher(a.AppID, a.PushToken, a.PushAESKey)
		if err != nil {
			return fmt.Errorf("the message push settings of %s: %w", a.AppID, err)
		}
		apps = append(apps, p)
	}
	erase := m.EraseUser
	if erase == nil {
		// The account deletion's erasure (avatar files and this
		// instance's cache included), with wechat as the audited actor.
		erase = func(ctx context.Context, id string, audit *models.AuditEntry) error {
			if _, err := svc.EraseUser(ctx, id, audit); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return nil // erased now, or before: nothing is left to erase
		}
	}
	media := m.MediaVerdict
	var del store.DeleteFile
	if m.Profile != nil {
		del = m.Profile.DeleteFile
	}
	if media == nil && m.Profile != nil {
		// In the push's transaction: the verdict and the push's record
		// commit together, so each push is applied exactly once.
		prof := m.Profile
		media = func(ctx context.Context, tx bun.IDB, v push.MediaVerdict) (string, error) {
			label, _ := strconv.Atoi(v.Label) // WeChat's label is a number; anything else is 0
			return prof.MediaVerdictIn(ctx, tx, v.AppID, v.TraceID, v.Suggest, label)
		}
	}
	ps := push.NewService(m.store, push.Config{Apps: apps, Log: m.Log, Limits: limits, RefusalsPerIP: m.Config.RateLimits.PushRefusedPerIP,
		Forget: svc.ForgetUser, Erase: erase, Media: media, DeleteFile: del, Observe: m.metrics.ObservePush})
	mux.Handle(push.Path, ps.Handler())
	return nil
}

// maxHeaderBytes bounds request headers, a GET query string included.
const maxHeaderBytes = 64 << 10

// openStore connects (m.store, m.adminStore) and migrates within
// STARTUP_TIMEOUT, so that a database that never answers, or a migration
// lock that is never released, fails start-up with one line instead of
// hanging it. What it opened before an error Open's Close closes.
func (m *Main) openStore(ctx context.Context) (err error) {
	cfg := m.Config
	store.SetDriverLog(m.Log)
	ctx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("start-up did not finish within %v (STARTUP_TIMEOUT): %w", cfg.StartupTimeout, err)
		}
	}()
	if m.store, err = store.Open(ctx, cfg.DatabaseURL, store.Options{
		MaxConns: cfg.DBMaxConns, ApplicationName: "wxlogin", StatementTimeout: cfg.DBStatementTimeout,
		NoPrepare: !cfg.DBPrepare,
	}); err != nil {
		return err
	}
	names, err := m.store.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		m.Log.Info("applied migrations", "names", names)
	}
	m.adminStore, err = store.Open(ctx, cfg.DatabaseURL, store.Options{
		MaxConns: cfg.AdminDBMaxConns, ApplicationName: AdminAppName, StatementTimeout: cfg.AdminStatementTimeout,
		NoPrepare: !cfg.DBPrepare, Serial: true,
	})
	return err
}

// Serve answers requests until Close; it returns nil after a clean Close.
func (m *Main) Serve() error {
	if err := m.server.Serve(m.listener); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// URL is the server's base URL, e.g. http://127.0.0.1:8080.
func (m *Main) URL() string {
	addr := m.listener.Addr().(*net.TCPAddr)
	host := m.Config.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// Close stops accepting requests, waits for those in flight until ctx ends,
// cuts off any still running then, and closes the database. It takes a Main
// that Open left half-opened: each part is closed if it was opened.
func (m *Main) Close(ctx context.Context) error {
	var err error
	if m.server != nil {
		if err = m.server.Shutdown(ctx); err != nil {
			// Closing their connections cancels the handlers' contexts,
			// so they let go of their database connections.
			_ = m.server.Close()
		}
	}
	if m.listener != nil {
		// Shutdown closed it if Serve ran; else nothing did. A second
		// Close only says it is closed.
		_ = m.listener.Close()
	}
	if m.stopPurge != nil {
		m.stopPurge()
		<-m.purged
	}
	if m.stopErase != nil {
		m.stopErase()
		<-m.erased
	}
	if m.stopCount != nil {
		m.stopCount()
		<-m.counted
	}
	if m.stopFollow != nil {
		m.stopFollow()
		<-m.followed
	}
	err = errors.Join(err, m.closeTelemetry(ctx))
	if m.store != nil {
		err = errors.Join(err, m.store.Close())
	}
	if m.adminStore != nil {
		err = errors.Join(err, m.adminStore.Close())
	}
	if m.redis != nil {
		err = errors.Join(err, m.redis.Close())
	}
	return err
}

// purgeSessions deletes sessions that ended more than sessionRetention ago,
// at start and then every purgeEvery, until ctx ends. Several instances may
// run it at once: each batch skips rows another instance has locked.
func (m *Main) purgeSessions(ctx context.Context) {
	defer close(m.purged)
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		n, err := m.store.PurgeSessions(ctx, sessionRetention, purgeBatch)
		if err == nil {
			_, err = m.store.PurgeLoginAttempts(ctx, admin.AttemptWindow)
		}
		if err == nil {
			_, err = m.store.PurgePushes(ctx, time.Now().Add(-push.Retention), purgeBatch)
		}
		if err == nil && m.pgLimits != nil {
			_, err = m.pgLimits.Purge(ctx)
		}
		if err == nil {
			_, err = m.store.PurgeMediaChecks(ctx, mediaCheckRetention)
		}
		if err != nil && ctx.Err() == nil {
			m.Log.Warn("purging ended sessions", "err", err)
		} else if n > 0 {
			m.Log.Info("purged ended sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// The erasure job erases accounts whose cooling-off period has ended:
// every eraseEvery, eraseBatch users per transaction, until none is due.
const (
	eraseEvery = time.Minute
	eraseBatch = 100
)

// eraseDue runs the erasure job at start and then every eraseEvery until
// ctx ends. Several instances may run it at once: each batch locks its
// users with SKIP LOCKED, so no user is erased twice, and a batch that
// fails (a database restart) is rolled back whole and found due again.
func (m *Main) eraseDue(ctx context.Context) {
	defer close(m.erased)
	t := time.NewTicker(eraseEvery)
	defer t.Stop()
	for {
		n, err := EraseDue(ctx, m.store, m.blobs, m.SessionCache, m.Log)
		if err != nil && ctx.Err() == nil {
			m.Log.Warn("erasing accounts due for erasure", "err", err)
		} else if n > 0 {
			m.Log.Info("erased accounts whose deletion was due", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EraseDue erases every account due for erasure, eraseBatch at a time,
// deletes their avatar files, drops them from cache (nil: none), and
// returns how many it erased. The audit log names the job as the actor:
// kind system, name erasure.
func EraseDue(ctx context.Context, st *store.Store, blobs blob.Store, cache *auth.SessionCache, log *slog.Logger) (int, error) {
	name := "erasure"
	total := 0
	for {
		done, err := st.EraseDue(ctx, eraseBatch, models.AuditEntry{ActorKind: "system", ActorName: &name, Action: "user.erase"})
		total += len(done)
		for _, e := range done {
			if cache != nil {
				cache.InvalidateUser(e.User.ID)
			}
			if err := blob.DeleteAll(ctx, blobs, e.AvatarKeys); err != nil {
				log.WarnContext(ctx, "deleting an erased user's avatar file; delete it by hand", "err", err)
			}
		}
		if err != nil || len(done) < eraseBatch {
			return total, err
		}
	}
}

// printBanner tells where the server answers: a few lines for a person
// in text log mode, one JSON record in json mode, so that a log shipper
// reading the container's output meets no line that is not JSON.
func (m *Main) printBanner(w io.Writer) {
	u := m.URL()
	if m.Config.LogFormat == "json" {
		attrs := []any{"url", u, "graphql", u + "/graphql", "admin", u + "/admin/"}
		if m.Config.DevWechat {
			attrs = append(attrs, "playground", u+"/playground/", "wechat_simulator", u+"/dev/wechat/code")
		}
		switch {
		case m.devAdminPassword != "":
			// A password has no place in a log record, which a log
			// shipper sends on, even a throw-away one; the text banner
			// (dev mode's default format) shows it on the terminal.
			cmd, _ := m.adminCommand("passwd admin")
			attrs = append(attrs, "dev_admin_username", "admin", "dev_admin_password", "not logged: set one with "+cmd)
		case m.admins.username != "":
			cmd, _ := m.adminCommand("passwd " + m.admins.username)
			attrs = append(attrs, "admin_username", m.admins.username, "admin_accounts", m.admins.count, "admin_password_reset", cmd)
		default:
			cmd, _ := m.adminCommand("create <username> -role admin")
			attrs = append(attrs, "admin_accounts", m.admins.count, "admin_create", cmd)
		}
		newLogger(m.Config, w).Info("wxlogin is listening on "+u, attrs...)
		return
	}
	fmt.Fprintf(w, "wxlogin is listening on %s\n", u)
	fmt.Fprintf(w, "  GraphQL endpoint: %s/graphql\n", u)
	fmt.Fprintf(w, "  Admin dashboard:  %s/admin/\n", u)
	for _, l := range m.adminLines() {
		fmt.Fprintln(w, l)
	}
	if !m.Config.DevWechat {
		return
	}
	fmt.Fprintf(w, "  Playground:       %s/playground/\n", u)
	fmt.Fprintf(w, "  WeChat simulator: POST %s/dev/wechat/code {\"user\":\"alice\"} mints a wx.login() code (dev mode only)\n", u)
	fmt.Fprintf(w, "\nTry it (copy and paste):\n\n")
	fmt.Fprintf(w, "  code=$(curl -s -X POST %s/dev/wechat/code -d '{\"user\":\"alice\"}' | sed -E 's/.*\"code\":\"([^\"]+)\".*/\\1/')\n", u)
	fmt.Fprintf(w, "  token=$(curl -s %s/graphql -H 'Content-Type: application/json' \\\n", u)
	fmt.Fprintf(w, "    -d '{\"query\":\"mutation($c: String!) { login(input: {code: $c}) { token created user { id } } }\",\"variables\":{\"c\":\"'\"$code\"'\"}}' \\\n")
	fmt.Fprintf(w, "    | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')\n")
	fmt.Fprintf(w, "  curl -s %s/graphql -H \"Authorization: Bearer $token\" -H 'Content-Type: application/json' \\\n", u)
	fmt.Fprintf(w, "    -d '{\"query\":\"{ me { id createdAt lastLoginAt } }\"}'\n\n")
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// operationTracer is the tracer of GraphQL operations' spans, nil when
// tracing is off (no span at all rather than a no-op one per request).
func (m *Main) operationTracer() trace.Tracer {
	if !m.tracing.Enabled() {
		return nil
	}
	return m.tracing.Tracer
}

// Store is the users' pool, for end-to-end tests (app/apptest) that look
// at or change rows behind the server's back; nil before Open.
func (m *Main) Store() *store.Store { return m.store }

// AdminStore is the admin API's pool, for tests that watch its queries.
func (m *Main) AdminStore() *store.Store { return m.adminStore }

// Handler is the whole server's handler (every middleware included), for
// tests and benchmarks that call it without the network.
func (m *Main) Handler() http.Handler { return m.server.Handler }

// TracingEnabled reports whether spans are recorded (the OTEL_ settings, or
// TraceExporter), for tests.
func (m *Main) TracingEnabled() bool { return m.tracing.Enabled() }
