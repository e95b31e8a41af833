package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"wxlogin/models"
)

// ErrUserDisabled is returned by Login when the user has been disabled.
var ErrUserDisabled = errors.New("store: user disabled")

// NewID returns a time-ordered UUIDv7, so ids index and paginate in creation order.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// LoginParams is what a successful WeChat exchange tells us, plus the new
// session to record.
type LoginParams struct {
	Provider string
	AppID    string
	OpenID   string
	// UnionID may be empty; once known it is kept and joins apps' identities.
	UnionID string
	// Profile, when set, overwrites the user's profile columns.
	Profile *models.Profile
	// Session is inserted as given; its UserID and IdentityID are filled in.
	Session *models.Session
}

// LoginResult is the user and identity a login resolved to.
type LoginResult struct {
	User     *models.User
	Identity *models.Identity
	// Created reports whether this login made the user.
	Created bool
}

// Login finds or creates the identity and user for p and records p.Session,
// all in one transaction: a failure leaves nothing behind, and any number of
// concurrent first logins of one openid make exactly one user. A user with
// the same unionid in another app of the same provider is reused.
// Returns ErrUserDisabled for a disabled user (and records nothing).
func (s *Store) Login(ctx context.Context, p LoginParams) (*LoginResult, error) {
	var res *LoginResult
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		res, err = login(ctx, tx, p)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrUserDisabled) {
			return nil, err
		}
		return nil, fmt.Errorf("store: login: %w", err)
	}
	return res, nil
}

func login(ctx context.Context, tx bun.Tx, p LoginParams) (*LoginResult, error) {
	proposed := NewID()
	linked := false
	if p.UnionID != "" {
		uid, err := userIDByUnionID(ctx, tx, p.Provider, p.UnionID)
		if err != nil {
			return nil, err
		}
		if uid != "" {
			proposed, linked = uid, true
		}
	}
	ident, err := upsertIdentity(ctx, tx, &models.Identity{
		ID: NewID(), UserID: proposed, Provider: p.Provider, AppID: p.AppID,
		OpenID: p.OpenID, UnionID: nullable(p.UnionID),
	})
	if err != nil {
		return nil, err
	}
	// The identity row is the serialization point: whoever inserted it with
	// their proposed user id creates that user; everyone else finds it.
	created := ident.UserID == proposed && !linked
	var user *models.User
	if created {
		user, err = insertUser(ctx, tx, proposed, p.Profile)
	} else {
		user, err = touchUser(ctx, tx, ident.UserID, p.Profile)
	}
	if err != nil {
		return nil, err
	}
	if user.DisabledAt != nil {
		return nil, ErrUserDisabled
	}
	p.Session.UserID, p.Session.IdentityID = user.ID, ident.ID
	if _, err := tx.NewInsert().Model(p.Session).Returning("created_at, last_seen_at").Exec(ctx); err != nil {
		return nil, fmt.Errorf("inserting session: %w", err)
	}
	return &LoginResult{User: user, Identity: ident, Created: created}, nil
}

// userIDByUnionID finds the user already holding unionID. It first takes a
// transaction-scoped advisory lock on the unionid, so that first logins of
// one person from two apps at once take turns and the second finds the
// first's user instead of making another. The lock must be its own
// statement: the lookup's snapshot has to be taken after the lock is held.
func userIDByUnionID(ctx context.Context, tx bun.IDB, provider, unionID string) (string, error) {
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", provider+"/"+unionID); err != nil {
		return "", fmt.Errorf("locking unionid: %w", err)
	}
	var uid string
	err := tx.NewSelect().Model((*models.Identity)(nil)).Column("user_id").
		Where("provider = ? AND unionid = ?", provider, unionID).
		OrderExpr("created_at").Limit(1).Scan(ctx, &uid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("finding unionid: %w", err)
	}
	return uid, nil
}

// upsertIdentity inserts ident or, when its (provider, appid, openid) exists,
// updates that row's unionid and login time; either way it returns the row.
func upsertIdentity(ctx context.Context, tx bun.IDB, ident *models.Identity) (*models.Identity, error) {
	_, err := tx.NewInsert().Model(ident).
		On("CONFLICT (provider, appid, openid) DO UPDATE").
		Set("unionid = COALESCE(EXCLUDED.unionid, i.unionid)").
		Set("updated_at = now()").
		Set("last_login_at = now()").
		Returning("*").
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("upserting identity: %w", err)
	}
	return ident, nil
}

func insertUser(ctx context.Context, tx bun.IDB, id string, p *models.Profile) (*models.User, error) {
	u := &models.User{ID: id}
	if p != nil {
		applyProfile(u, p)
	}
	_, err := tx.NewInsert().Model(u).Value("last_login_at", "now()").Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("inserting user: %w", err)
	}
	return u, nil
}

func touchUser(ctx context.Context, tx bun.IDB, id string, p *models.Profile) (*models.User, error) {
	u := &models.User{ID: id}
	q := tx.NewUpdate().Model(u).Set("last_login_at = now()").WherePK()
	if p != nil {
		applyProfile(u, p)
		q = q.Set("updated_at = now()").
			Column("nickname", "avatar_url", "gender", "language", "city", "province", "country")
	}
	if _, err := q.Returning("*").Exec(ctx); err != nil {
		return nil, fmt.Errorf("updating user: %w", err)
	}
	return u, nil
}

func applyProfile(u *models.User, p *models.Profile) {
	g := p.Gender
	u.Nickname, u.AvatarURL, u.Gender = nullable(p.Nickname), nullable(p.AvatarURL), &g
	u.Language, u.City, u.Province, u.Country = nullable(p.Language), nullable(p.City), nullable(p.Province), nullable(p.Country)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
