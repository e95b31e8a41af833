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

// Input is an updateProfile: nil fields stay as they are.
type Input struct {
	Nickname, Language, City, Province, Country *string
	Gender                                      *models.Gender
}

// Update applies in to the user with userID. Errors: BAD_USER_INPUT naming
// the field and its rule; INTERNAL.
func (s *Service) Update(ctx context.Context, userID string, in Input) (*models.User, error) {
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
	return s.save(ctx, userID, c)
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
// the user's avatarUrl at it. Errors: BAD_USER_INPUT saying what is wrong
// with the image, or that its decode took over decodeTimeout;
// RATE_LIMITED (per user, counted before the image is read or decoded,
// extensions.retryAfter in seconds); INTERNAL.
func (s *Service) SetAvatar(ctx context.Context, userID string, file io.Reader) (*models.User, error) {
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
	if err := s.blobs.Put(ctx, key, img); err != nil {
		return nil, internal(err)
	}
	url := AvatarPath + key
	return s.save(ctx, userID, store.ProfileChange{AvatarURL: &url})
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
