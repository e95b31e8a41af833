// Package profile changes what a signed-in user says about themselves: the
// nickname and other fields the mini program's forms give, and the avatar
// its picker gives, stored in a blob.Store and served from there.
package profile

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"unicode/utf8"

	"wxlogin/blob"
	"wxlogin/models"
	"wxlogin/ratelimit"
	"wxlogin/store"
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
	// decodes holds a slot per image being decoded: a decode takes a core
	// and up to a few hundred megabytes (a 4096² 16-bit PNG), so a burst
	// of uploads waits its turn rather than exhausting the machine.
	decodes chan struct{}
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
	return &Service{store: st, blobs: blobs, log: log, decodes: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
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
// with the image; RATE_LIMITED (per user, counted before the image is
// read or decoded, extensions.retryAfter in seconds); INTERNAL.
func (s *Service) SetAvatar(ctx context.Context, userID string, file io.Reader) (*models.User, error) {
	if err := s.limits.Check(ctx, "avatar:user", userID, s.avatarLimit,
		"too many avatar uploads; try again in %d seconds"); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(file, MaxAvatarBytes+1))
	if err != nil {
		return nil, internal(err)
	}
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return nil, &models.Error{Code: models.CodeRateLimited, Message: "too many avatar uploads at once; retry shortly",
			Extensions: map[string]any{"retryAfter": 1}}
	}
	img, err := normalizeAvatar(data)
	<-s.decodes
	var bad errImage
	if errors.As(err, &bad) {
		return nil, models.Errorf(models.CodeBadUserInput, "avatar: %s", string(bad))
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
// WeChat's URLs as they are.
func AvatarURL(stored *string, publicURL string) *string {
	if stored == nil {
		return nil
	}
	if !strings.HasPrefix(*stored, AvatarPath) {
		// Only https URLs are stored from WeChat, but a row written by
		// other means must not hand a client javascript: or data:.
		if !strings.HasPrefix(*stored, "https://") {
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
