package store

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"time"

	"wxlogin/models"
)

// listColumns are userColumns and the deletion state, which the login
// paths need not read (they never load a pending or erased user) but a
// users page shows.
const listColumns = userColumns + `, u.deletion_requested_at, u.erase_at, u.deleted_at`

// listPlain reads a page of q when it filters nothing (the dashboard's
// users page, any depth) by one of the store's own prepared statements,
// scanned by hand: at a million users the page's planning and Bun's
// reflection were most of what it cost (issue 21). It reports false,
// having read nothing, for any other query, which ListUsers builds with
// Bun as before. users_plain_test.go holds the two to the same rows.
func (s *Store) listPlain(ctx context.Context, q UserQuery, dir, cmp string, c *Cursor) ([]*models.User, bool, error) {
	if !plainQuery(q) {
		return nil, false, nil
	}
	key, _ := q.Order.keyExpr()
	query := "SELECT " + listColumns + " FROM users AS u WHERE u.deleted_at IS NULL"
	args := make([]any, 0, 3)
	if c != nil {
		var k any = "-infinity"
		if c.Key != nil {
			k = c.Key.UTC().Format(time.RFC3339Nano)
		}
		query += fmt.Sprintf(" AND (%s, u.id) %s ($1::timestamptz, $2::uuid)", key, cmp)
		args = append(args, k, c.ID)
	}
	query += fmt.Sprintf(" ORDER BY %s %s, u.id %s LIMIT $%d", key, dir, dir, len(args)+1)
	args = append(args, q.First+1)
	users := make([]*models.User, 0, q.First+1)
	err := s.query(ctx, nil, query, args, func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			u := new(models.User)
			if err := rows.Scan(&u.ID, &u.Nickname, &u.AvatarURL, &u.Gender, &u.Language, &u.City, &u.Province, &u.Country,
				&u.Phone, &u.PhoneCountryCode, &u.DisabledAt, &u.DisabledReason, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt,
				&u.DeletionRequestedAt, &u.ErasesAt, &u.DeletedAt); err != nil {
				return err
			}
			users = append(users, u)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, true, fmt.Errorf("store: listing users: %w", err)
	}
	return users, true, nil
}

// plainQuery reports whether q asks for nothing but a page in one of the
// known orders: every field but the paging ones is zero, so a filter added
// to UserQuery later keeps its queries on Bun's path until listPlain
// learns it.
func plainQuery(q UserQuery) bool {
	if q.Order != OrderCreatedAt && q.Order != OrderLastLoginAt {
		return false
	}
	q.First, q.After, q.Before, q.Backward, q.Order, q.Desc, q.WithTotal = 0, nil, nil, false, "", false, false
	return reflect.ValueOf(q).IsZero()
}
