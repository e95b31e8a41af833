package store

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"time"

	"wxlogin/models"
)

// listColumns are userColumns and the deletion state, which the login
// paths need not read (they never load a pending or erased user) but a
// users page shows.
const listColumns = userColumns + `, u.deletion_requested_at, u.erase_at, u.deleted_at`

// PageColumns names the columns of users a plain page (see listPlain)
// reads besides the id and the order's key, which every page reads for its
// cursors; the fields of models.User for the others are left zero. Zero
// reads every column. It exists because the dashboard's page shows a few
// fields of eighteen, and at 20 users a page reading, sending and parsing
// the others (seven timestamps among them) was most of the page's
// database cost (issue 21).
type PageColumns uint32

// The columns a page may name.
const (
	ColNickname PageColumns = 1 << iota
	ColAvatarURL
	ColGender
	ColLanguage
	ColCity
	ColProvince
	ColCountry
	ColPhone
	ColPhoneCountryCode
	ColDisabledAt
	ColDisabledReason
	ColCreatedAt
	ColUpdatedAt
	ColLastLoginAt
	ColDeletionRequestedAt
	ColErasesAt
	ColDeletedAt

	// AllPageColumns is every column.
	AllPageColumns = ColDeletedAt<<1 - 1
)

// pageColumns are listColumns in order, each with the field it is scanned
// into (users_plain_test.go holds the two lists together). id has no bit:
// it is always read.
var pageColumns = []struct {
	bit  PageColumns
	name string
	dest func(u *models.User) any
}{
	{0, "u.id", func(u *models.User) any { return &u.ID }},
	{ColNickname, "u.nickname", func(u *models.User) any { return &u.Nickname }},
	{ColAvatarURL, "u.avatar_url", func(u *models.User) any { return &u.AvatarURL }},
	{ColGender, "u.gender", func(u *models.User) any { return &u.Gender }},
	{ColLanguage, "u.language", func(u *models.User) any { return &u.Language }},
	{ColCity, "u.city", func(u *models.User) any { return &u.City }},
	{ColProvince, "u.province", func(u *models.User) any { return &u.Province }},
	{ColCountry, "u.country", func(u *models.User) any { return &u.Country }},
	{ColPhone, "u.phone", func(u *models.User) any { return &u.Phone }},
	{ColPhoneCountryCode, "u.phone_country_code", func(u *models.User) any { return &u.PhoneCountryCode }},
	{ColDisabledAt, "u.disabled_at", func(u *models.User) any { return &u.DisabledAt }},
	{ColDisabledReason, "u.disabled_reason", func(u *models.User) any { return &u.DisabledReason }},
	{ColCreatedAt, "u.created_at", func(u *models.User) any { return &u.CreatedAt }},
	{ColUpdatedAt, "u.updated_at", func(u *models.User) any { return &u.UpdatedAt }},
	{ColLastLoginAt, "u.last_login_at", func(u *models.User) any { return &u.LastLoginAt }},
	{ColDeletionRequestedAt, "u.deletion_requested_at", func(u *models.User) any { return &u.DeletionRequestedAt }},
	{ColErasesAt, "u.erase_at", func(u *models.User) any { return &u.ErasesAt }},
	{ColDeletedAt, "u.deleted_at", func(u *models.User) any { return &u.DeletedAt }},
}

// maxNarrowPages bounds the distinct column sets listPlain prepares a
// statement for (each is prepared on every connection that runs it): the
// set follows the client's selection, and a client could ask for
// thousands. Beyond it a new set reads every column, as before.
const maxNarrowPages = 64

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
	cols := q.Columns | ColCreatedAt // the cursors' key
	if q.Order == OrderLastLoginAt {
		cols |= ColLastLoginAt
	}
	if q.Columns == 0 {
		cols = AllPageColumns
	}
	query := plainStatement(cols, key, dir, cmp, c != nil)
	if cols != AllPageColumns && !s.noPrepare && !s.isPrepared(query) && !s.admitNarrow(query) {
		cols = AllPageColumns
		query = plainStatement(cols, key, dir, cmp, c != nil)
	}
	args := make([]any, 0, 3)
	if c != nil {
		var k any = "-infinity"
		if c.Key != nil {
			k = c.Key.UTC().Format(time.RFC3339Nano)
		}
		args = append(args, k, c.ID)
	}
	args = append(args, q.First+1)
	users := make([]*models.User, 0, q.First+1)
	err := s.query(ctx, nil, query, args, func(rows *sql.Rows) error {
		defer rows.Close()
		dest := make([]any, 0, len(pageColumns))
		for rows.Next() {
			u := new(models.User)
			dest = dest[:0]
			for _, pc := range pageColumns {
				if pc.bit == 0 || cols&pc.bit != 0 {
					dest = append(dest, pc.dest(u))
				}
			}
			if err := rows.Scan(dest...); err != nil {
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

// admitNarrow reports whether query, a narrow page's statement, is one of
// the first maxNarrowPages distinct ones listPlain was asked for.
func (s *Store) admitNarrow(query string) bool {
	s.narrowMu.Lock()
	defer s.narrowMu.Unlock()
	if s.narrowPages[query] {
		return true
	}
	if len(s.narrowPages) >= maxNarrowPages {
		return false
	}
	if s.narrowPages == nil {
		s.narrowPages = make(map[string]bool, maxNarrowPages)
	}
	s.narrowPages[query] = true
	return true
}

// plainStatement is listPlain's statement for the columns cols, ordered by
// key in dir, after a cursor ($1, $2) when cursor is set.
func plainStatement(cols PageColumns, key, dir, cmp string, cursor bool) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, pc := range pageColumns {
		if pc.bit == 0 || cols&pc.bit != 0 {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pc.name)
		}
	}
	b.WriteString(" FROM users AS u WHERE u.deleted_at IS NULL")
	n := 1
	if cursor {
		fmt.Fprintf(&b, " AND (%s, u.id) %s ($1::timestamptz, $2::uuid)", key, cmp)
		n = 3
	}
	fmt.Fprintf(&b, " ORDER BY %s %s, u.id %s LIMIT $%d", key, dir, dir, n)
	return b.String()
}

// isPrepared reports whether query is one of the store's prepared statements.
func (s *Store) isPrepared(query string) bool {
	m := s.stmts.Load()
	return m != nil && (*m)[query] != nil
}

// plainQuery reports whether q asks for nothing but a page in one of the
// known orders: every field but the paging ones is zero, so a filter added
// to UserQuery later keeps its queries on Bun's path until listPlain
// learns it.
func plainQuery(q UserQuery) bool {
	if q.Order != OrderCreatedAt && q.Order != OrderLastLoginAt {
		return false
	}
	q.First, q.After, q.Before, q.Backward, q.Order, q.Desc, q.WithTotal, q.Columns = 0, nil, nil, false, "", false, false, 0
	return reflect.ValueOf(q).IsZero()
}
