// Package profile changes what a signed-in user says about themselves: the
// nickname and other fields the mini program's forms give, and the avatar
// its picker gives, stored in a blob.Store and served from there.
package profile

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"wxlogin/blob"
	"wxlogin/models"
	"wxlogin/ratelimit"
	"wxlogin/store"
	"wxlogin/wechat"
)

// AvatarPath is where uploaded avatars are served; a user's avatarUrl is
// this path and the file's key.
const AvatarPath = "/avatars/"

// Limits of the text fields, in characters.
const (
	maxNickname = 32
	maxField    = 64
)

// Service changes profiles.
type Service struct {
	store *store.Store
	blobs blob.Store
	log   *slog.Logger
	// decodes and largeDecodes hold a slot per image being decoded: a
	// decode takes a core and up to maxDecodeBytes, so a burst of uploads
	// waits its turn rather than exhausting the machine. An image whose
	// decode is estimated above largeDecodeBytes (the slow ones: many
	// pixels, many scans) takes the one large slot, the others one of
	// decodes' GOMAXPROCS/2: an ordinary avatar never queues behind a
	// large one, and large ones take turns with each other. No upload
	// waits longer than decodeWait for its slot (RATE_LIMITED then).
	decodes, largeDecodes chan struct{}
	decodeWait            time.Duration
	// decodeTimeout is how long a decode may take; see decodeTimeout.
	decodeTimeout time.Duration
	// forget is told of each user whose profile changed; see SetForget.
	forget func(userID string)
	// limits and avatarLimit bound uploads per user; see SetRateLimit.
	limits      *ratelimit.Guard
	avatarLimit ratelimit.Limit
	// check is WeChat's content security; nil when CONTENT_CHECK is off.
	check *ContentCheck
}

// NewService returns a Service storing avatars in blobs.
func NewService(st *store.Store, blobs blob.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: st, blobs: blobs, log: log,
		decodes:       make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		largeDecodes:  make(chan struct{}, 1),
		decodeWait:    decodeWait,
		decodeTimeout: decodeTimeout,
	}
}

// SetRateLimit makes g count SetAvatar calls per user against perUser
// (off when zero). Call it before the Service is used.
func (s *Service) SetRateLimit(g *ratelimit.Guard, perUser ratelimit.Limit) {
	s.limits, s.avatarLimit = g, perUser
}

// SetForget makes every committed change call forget with the user's id,
// so that this instance's session cache stops answering `me` with the old
// profile at once (the other instances hear of it by NOTIFY).
func (s *Service) SetForget(forget func(userID string)) { s.forget = forget }

// ContentCheck is how nicknames and avatars are checked with WeChat
// (CONTENT_CHECK=on): msgSecCheck before a nickname is saved,
// mediaCheckAsync after an avatar is.
type ContentCheck struct {
	// Apps are the WeChat clients by appid: a user's content is checked
	// by the mini program their session signed in from, with their openid
	// there. Default serves an identity of an app since removed.
	Apps    map[string]*wechat.Client
	Default *wechat.Client
	// MediaBase is the origin WeChat fetches uploaded avatars from
	// (PUBLIC_URL): an avatar's URL is MediaBase + its path.
	MediaBase string
}

// nicknameCheckLimit bounds the nickname checks per user: each is a
// msgSecCheck, and WeChat's quota is the app's, shared by every user.
var nicknameCheckLimit = ratelimit.Limit{N: 60, Window: time.Hour}

// SetContentCheck turns the content checks on with cc. Call it before the
// Service is used.
func (s *Service) SetContentCheck(cc ContentCheck) {
	cc.MediaBase = strings.TrimSuffix(cc.MediaBase, "/")
	s.check = &cc
}

// client is the WeChat client of appID.
func (cc *ContentCheck) client(appID string) *wechat.Client {
	if c := cc.Apps[appID]; c != nil {
		return c
	}
	return cc.Default
}

// Input is an updateProfile: nil fields stay as they are.
type Input struct {
	Nickname, Language, City, Province, Country *string
	Gender                                      *models.Gender
}

// Update applies in to the user with userID, signed in with the session
// sessionID. With content checks on, a nickname is first checked by
// WeChat's msgSecCheck (scene 1, the openid of the session's identity):
// risky refuses it, review saves it marked for an admin's review, pass
// saves it approved. Errors: BAD_USER_INPUT naming the field and its rule;
// CONTENT_REJECTED (extensions.label, WeChat's category; nothing saved);
// RATE_LIMITED (more than nicknameCheckLimit checks);
// WECHAT_UNAVAILABLE, WECHAT_RATE_LIMITED (nothing saved); UNAUTHENTICATED
// when the session has ended; INTERNAL.
func (s *Service) Update(ctx context.Context, userID, sessionID string, in Input) (*models.User, error) {
	c := store.ProfileChange{Gender: in.Gender}
	if in.Nickname != nil {
		n := strings.TrimSpace(*in.Nickname)
		if l := utf8.RuneCountInString(n); l < 1 || l > maxNickname {
			return nil, models.Errorf(models.CodeBadUserInput, "nickname must be 1 to %d characters", maxNickname)
		}
		if err := checkText("nickname", n); err != nil {
			return nil, err
		}
		c.Nickname = &n
	}
	for _, f := range []struct {
		name string
		in   *string
		out  **string
	}{{"language", in.Language, &c.Language}, {"city", in.City, &c.City}, {"province", in.Province, &c.Province}, {"country", in.Country, &c.Country}} {
		if f.in == nil {
			continue
		}
		v := strings.TrimSpace(*f.in)
		if utf8.RuneCountInString(v) > maxField {
			return nil, models.Errorf(models.CodeBadUserInput, "%s must be at most %d characters", f.name, maxField)
		}
		if err := checkText(f.name, v); err != nil {
			return nil, err
		}
		*f.out = &v
	}
	if in.Gender != nil && (*in.Gender < models.GenderUnknown || *in.Gender > models.GenderFemale) {
		return nil, models.Errorf(models.CodeBadUserInput, "gender must be UNKNOWN, MALE or FEMALE")
	}
	if c.Nickname == nil {
		return s.save(ctx, userID, c)
	}
	var check *store.Check
	if s.check != nil {
		var err error
		if check, err = s.checkNickname(ctx, userID, sessionID, *c.Nickname); err != nil {
			return nil, err
		}
	}
	u, err := s.store.SetNickname(ctx, userID, c, check)
	return s.saved(userID, u, err)
}

// checkNickname asks WeChat about nickname and returns the check to record
// beside it, or CONTENT_REJECTED when it is risky.
func (s *Service) checkNickname(ctx context.Context, userID, sessionID, nickname string) (*store.Check, error) {
	if err := s.limits.Check(ctx, "nickname_check:user", userID, nicknameCheckLimit,
		"too many nickname changes; try again in %d seconds"); err != nil {
		return nil, err
	}
	ident, err := s.identity(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	v, err := s.check.client(ident.AppID).MsgSecCheck(ctx, nickname, ident.OpenID, wechat.SceneProfile)
	if err != nil {
		return nil, checkError(err)
	}
	label := v.Label
	switch v.Suggest {
	case wechat.SuggestRisky:
		// The trace id is what WeChat support asks for in an appeal; the
		// nickname itself stays out of the log.
		s.log.InfoContext(ctx, "nickname refused by WeChat's content check", "user", userID, "appid", ident.AppID, "traceId", v.TraceID, "label", v.Label)
		return nil, &models.Error{Code: models.CodeContentRejected,
			Message:    "WeChat's content security check refused this nickname; choose another",
			Extensions: map[string]any{"label": v.Label}}
	case wechat.SuggestReview:
		s.log.InfoContext(ctx, "nickname saved for review by WeChat's content check", "user", userID, "appid", ident.AppID, "traceId", v.TraceID, "label", v.Label)
		return &store.Check{State: models.ModerationReview, Label: &label, Trace: v.TraceID}, nil
	}
	return &store.Check{State: models.ModerationApproved, Label: &label, Trace: v.TraceID}, nil
}

// identity is the identity (app and openid) of the session sessionID.
func (s *Service) identity(ctx context.Context, sessionID string) (*models.Identity, error) {
	ident, err := s.store.SessionIdentity(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, models.Errorf(models.CodeUnauthenticated, "sign in again")
	} else if err != nil {
		return nil, internal(err)
	}
	return ident, nil
}

// checkError maps a failed content check. Nothing is saved after one.
func checkError(err error) error {
	switch {
	case errors.Is(err, wechat.ErrRateLimited):
		return models.WrapError(err, models.CodeWechatRateLimited, "WeChat is rate limiting this app's content checks; retry shortly")
	case errors.Is(err, wechat.ErrOpenIDRefused):
		// 61010: WeChat checks content only for a user seen in the last
		// two hours, which a fresh wx.login() and login make them.
		return models.WrapError(err, models.CodeWechatUnavailable,
			"WeChat will not check content for this user now: call wx.login(), log in again, and retry")
	case errors.Is(err, wechat.ErrUnavailable):
		return models.WrapError(err, models.CodeWechatUnavailable, "WeChat's content check is unavailable; nothing was saved, retry shortly")
	}
	return internal(err)
}

// checkText applies models.TextProblem: a nickname is shown to other
// people, and must not hide, reorder or pile up over the text around it.
func checkText(field, s string) error {
	if p := models.TextProblem(s, false); p != "" {
		return models.Errorf(models.CodeBadUserInput, "%s %s", field, p)
	}
	return nil
}

// SetAvatar checks and re-encodes the image in file, stores it, and points
// the user's avatarUrl at it. With content checks on, WeChat's
// mediaCheckAsync is asked about it first (the file stored, so WeChat can
// fetch it), and the avatar is PENDING until MediaVerdict. Errors:
// BAD_USER_INPUT saying what is wrong with the image, or that its decode
// took over decodeTimeout; RATE_LIMITED (per user, counted before the
// image is read or decoded, extensions.retryAfter in seconds);
// WECHAT_UNAVAILABLE, WECHAT_RATE_LIMITED (the avatar unchanged);
// UNAUTHENTICATED when the session has ended; INTERNAL.
func (s *Service) SetAvatar(ctx context.Context, userID, sessionID string, file io.Reader) (*models.User, error) {
	if err := s.limits.Check(ctx, "avatar:user", userID, s.avatarLimit,
		"too many avatar uploads; try again in %d seconds"); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(file, MaxAvatarBytes+1))
	if err != nil {
		return nil, internal(err)
	}
	var img []byte
	// inspectAvatar runs before, and without, a decode slot: what it
	// takes is far below a decode. It allocates a few kilobytes (a
	// lossless WebP's entropy image aside, at most 1 MiB: one whose
	// pixels alone are over maxDecodeBytes is refused before its codes
	// are read) and its CPU is a walk over the file's bits plus, in a
	// lossless WebP, at most 262,144 pixels of each side image: 3 ms
	// for the slowest headers the tests build (BenchmarkInspectAvatar),
	// about 0.1 s for 2 MB of prefix codes read bit by bit (37 MB/s).
	// A slot would queue every upload refused here behind real decodes.
	src, err := inspectAvatar(data)
	if err == nil {
		release, busy := s.decodeSlot(ctx, src.cost)
		if busy != nil {
			return nil, busy
		}
		timeout := s.decodeTimeout
		if timeout <= 0 {
			timeout = decodeTimeout
		}
		dctx, cancel := context.WithTimeout(ctx, timeout)
		img, err = src.normalize(dctx)
		cancel()
		release()
	}
	var bad errImage
	if errors.As(err, &bad) {
		return nil, models.Errorf(models.CodeBadUserInput, "avatar: %s", string(bad))
	} else if errors.Is(err, context.Canceled) {
		// The client has left and reads no answer; an INTERNAL error
		// would be logged for nothing.
		return nil, models.WrapError(err, models.CodeBadUserInput, "avatar: the upload was cancelled")
	} else if err != nil {
		return nil, internal(err)
	}
	key := blob.Key(img, "jpg")
	put := func(ctx context.Context) error { return s.blobs.Put(ctx, key, img) }
	if err := put(ctx); err != nil {
		return nil, internal(err)
	}
	url := AvatarPath + key
	var mc *store.MediaCheck
	if s.check != nil {
		ident, err := s.identity(ctx, sessionID)
		if err != nil {
			return nil, err
		}
		trace, err := s.check.client(ident.AppID).MediaCheckAsync(ctx, s.check.MediaBase+url, ident.OpenID, wechat.SceneProfile)
		if err != nil {
			return nil, checkError(err)
		}
		mc = &store.MediaCheck{AppID: ident.AppID, TraceID: trace}
		// WeChat has the trace id now: record it even if the client
		// hangs up, or the verdict would find no upload.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
	}
	// Written again under the avatar's lock, in case a rejection of the
	// same content deleted the file since.
	u, err := s.store.SetAvatar(ctx, userID, url, put, mc, s.DeleteFile)
	return s.saved(userID, u, err)
}

// recordTimeout bounds recording an avatar WeChat is already checking.
const recordTimeout = 5 * time.Second

// DeleteFile deletes the file of an uploaded avatar given its stored
// avatar_url (AvatarPath and the key); anything else is left alone. It is
// the store.DeleteFile of risky verdicts and of moderateUser's rejections.
func (s *Service) DeleteFile(ctx context.Context, avatarURL string) error {
	key, ok := strings.CutPrefix(avatarURL, AvatarPath)
	if !ok || !blob.ValidKey(key) {
		return nil
	}
	err := s.blobs.Delete(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	return err
}

// MediaVerdict applies WeChat's verdict on an avatar check, as the
// wxa_media_check push event carries it: appID is the event's appid (the
// mini program the check was made for), traceID its trace_id, suggest its
// result.suggest ("pass", "review" or "risky") and label its result.label.
// pass makes the avatar APPROVED; review leaves it shown and REVIEW for an
// admin; risky removes it (avatarUrl null; the file deleted unless another
// user has the same content), written to the audit log as
// user.avatar_rejected by the system actor "wechat". Each trace_id is
// applied once: a push WeChat retries changes nothing. A verdict on an
// avatar the user has since replaced changes nothing but deleting a risky
// file. A verdict that arrives before the upload has recorded its trace_id
// is kept and applied when it does. A suggest that is none of the three
// (an event with an errcode: WeChat could not check the image) is logged
// and changes nothing: the avatar stays PENDING for an admin. It returns
// nil for all of these, so the push can be answered "success"; an error
// only for a failure worth WeChat's retry (the database).
func (s *Service) MediaVerdict(ctx context.Context, appID, traceID, suggest string, label int) error {
	userID, err := s.MediaVerdictIn(ctx, s.store.DB(), appID, traceID, suggest, label)
	if err == nil && userID != "" && s.forget != nil {
		s.forget(userID)
	}
	return err
}

// MediaVerdictIn is MediaVerdict through db, the transaction that records
// the wxa_media_check push (push.MediaHook): the verdict and the push's
// record commit together, so a push is applied exactly once, and a
// failure rolls both back for WeChat's retry. It returns the user whose
// avatar changed ("" for none), whom the caller drops from the session
// cache once db has committed.
func (s *Service) MediaVerdictIn(ctx context.Context, db bun.IDB, appID, traceID, suggest string, label int) (userID string, err error) {
	switch suggest {
	case wechat.SuggestPass, wechat.SuggestReview, wechat.SuggestRisky:
	default:
		s.log.WarnContext(ctx, "media check without a verdict; the avatar stays pending", "appid", appID, "traceId", traceID)
		return "", nil
	}
	if traceID == "" || len(traceID) > wechat.MaxTraceID {
		s.log.WarnContext(ctx, "media check verdict without a usable trace_id", "appid", appID)
		return "", nil
	}
	name := "wechat"
	audit := &models.AuditEntry{ActorKind: "system", ActorName: &name, Action: "user.avatar_rejected",
		Detail: map[string]any{"traceId": traceID, "label": label, "appId": appID}}
	out, err := s.store.MediaVerdictIn(ctx, db, appID, traceID, suggest, &label, audit, s.DeleteFile)
	if err != nil {
		return "", err
	}
	switch {
	case out.Duplicate:
		s.log.DebugContext(ctx, "media check verdict already applied", "appid", appID, "traceId", traceID)
	case !out.Known:
		s.log.InfoContext(ctx, "media check verdict before its upload was recorded; kept", "appid", appID, "traceId", traceID)
	default:
		s.log.InfoContext(ctx, "media check verdict", "user", out.UserID, "appid", appID, "traceId", traceID,
			"suggest", suggest, "label", label, "current", out.Current, "removed", out.Removed)
		if out.Current {
			userID = out.UserID
		}
	}
	return userID, nil
}

// decodeWait is the longest an upload waits for a decode slot. The
// slowest decode within maxDecodeBytes takes well under a second, so a
// longer wait means a burst of uploads, which are told to retry rather
// than held until their request times out.
const decodeWait = 3 * time.Second

// decodeSlot waits for a slot to decode an image of the given cost (see
// Service.decodes) and returns its release. Errors: RATE_LIMITED when
// none frees up within decodeWait or before ctx ends.
func (s *Service) decodeSlot(ctx context.Context, cost int64) (release func(), err error) {
	slots := s.decodes
	if cost > largeDecodeBytes {
		slots = s.largeDecodes
	}
	wait := time.NewTimer(s.decodeWait)
	defer wait.Stop()
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
	case <-wait.C:
	}
	return nil, &models.Error{Code: models.CodeRateLimited, Message: "too many avatar uploads at once; retry shortly",
		Extensions: map[string]any{"retryAfter": 1}}
}

func (s *Service) save(ctx context.Context, userID string, c store.ProfileChange) (*models.User, error) {
	u, err := s.store.UpdateProfile(ctx, userID, c)
	return s.saved(userID, u, err)
}

// saved maps a profile write's outcome and tells forget of the change.
func (s *Service) saved(userID string, u *models.User, err error) (*models.User, error) {
	if errors.Is(err, store.ErrNotFound) {
		// The session was valid a moment ago; the user was since merged or deleted.
		return nil, models.Errorf(models.CodeUnauthenticated, "sign in again")
	} else if err != nil {
		return nil, internal(err)
	}
	if s.forget != nil {
		s.forget(userID)
	}
	return u, nil
}

func internal(err error) error {
	return models.WrapError(err, models.CodeInternal, "internal error")
}

// AvatarURL returns what clients see as the avatar at stored: uploaded
// avatars (a path of this server) prefixed with publicURL when it is set;
// WeChat's URLs as they are. Anything else is shown as no avatar.
func AvatarURL(stored *string, publicURL string) *string {
	if stored == nil {
		return nil
	}
	if !strings.HasPrefix(*stored, AvatarPath) {
		// Only WeChat's avatar URLs are stored from a login, but a row
		// written by other means must not hand a client javascript:,
		// data: or a stranger's server (ImageSources, the admin page's
		// CSP, allows WeChat's hosts only).
		if !wechat.IsAvatarURL(*stored) {
			return nil
		}
		return stored
	}
	if publicURL == "" {
		return stored
	}
	u := strings.TrimSuffix(publicURL, "/") + *stored
	return &u
}

// ImageSources are the origins, besides the server's own, that AvatarURL
// may point at: publicURL's and WeChat's avatar hosts. The admin page's
// Content-Security-Policy allows images from exactly these.
func ImageSources(publicURL string) []string {
	var out []string
	if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
		out = append(out, u.Scheme+"://"+u.Host)
	}
	for _, h := range wechat.AvatarHosts {
		out = append(out, "https://"+h)
	}
	return out
}
