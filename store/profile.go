package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"wxlogin/models"
)

// ProfileChange is a change to a user's profile: nil fields stay as they
// are, and an empty string clears a column.
type ProfileChange struct {
	Nickname, Language, City, Province, Country, AvatarURL *string
	Gender                                                 *models.Gender
}

// UpdateProfile applies c to the user with id and returns the user as it
// now is; ErrNotFound when there is no such user.
func (s *Store) UpdateProfile(ctx context.Context, id string, c ProfileChange) (*models.User, error) {
	return updateProfile(ctx, s.db, id, c)
}

// updateProfile is UpdateProfile on db, a transaction or the pool.
func updateProfile(ctx context.Context, db bun.IDB, id string, c ProfileChange) (*models.User, error) {
	u := &models.User{ID: id}
	q := db.NewUpdate().Model(u).WherePK().Where("deleted_at IS NULL").Set("updated_at = now()").Returning("*")
	for col, v := range map[string]*string{
		"nickname": c.Nickname, "language": c.Language, "city": c.City,
		"province": c.Province, "country": c.Country, "avatar_url": c.AvatarURL,
	} {
		if v != nil {
			q.Set("? = NULLIF(?, '')", bun.Ident(col), *v)
		}
	}
	if c.Gender != nil {
		q.Set("gender = ?", *c.Gender)
	}
	if err := q.Scan(ctx); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("store: updating a profile: %w", err)
	}
	return u, nil
}
