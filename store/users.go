package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"wxlogin/models"
)

// UserOrder is a sort key for ListUsers.
type UserOrder string

// The orders ListUsers pages in. Ties are broken by id, so every order is
// total and a page boundary is never ambiguous.
const (
	OrderCreatedAt UserOrder = "CREATED_AT"
	// OrderLastLoginAt sorts a user who never logged in as if at -infinity:
	// first ascending, last descending.
	OrderLastLoginAt UserOrder = "LAST_LOGIN_AT"
	// OrderDisabledAt sorts disabled users by when they were disabled. It
	// is only for a query of disabled users (Disabled true), whose keys
	// are never NULL and whose rows users_disabled_at_idx holds.
	OrderDisabledAt UserOrder = "DISABLED_AT"
)

// ErrOrderNeedsDisabled refuses OrderDisabledAt for a query that is not
// of disabled users only.
var ErrOrderNeedsDisabled = errors.New("store: the DISABLED_AT order is for disabled users only")

// keyExpr is the SQL the order sorts and compares by. It must stay exactly
// the expression of the migration's index, or the planner cannot use it.
func (o UserOrder) keyExpr() (string, bool) {
	switch o {
	case OrderCreatedAt:
		return "u.created_at", true
	case OrderLastLoginAt:
		return "COALESCE(u.last_login_at, '-infinity'::timestamptz)", true
	case OrderDisabledAt:
		return "u.disabled_at", true
	}
	return "", false
}

// keyOf is u's sort key in the order, as a cursor holds it.
func (o UserOrder) keyOf(u *models.User) *time.Time {
	switch o {
	case OrderLastLoginAt:
		return u.LastLoginAt
	case OrderDisabledAt:
		return u.DisabledAt
	}
	return &u.CreatedAt
}

// nullable reports whether the order's key can be NULL, which a cursor
// then holds as a missing key.
func (o UserOrder) nullable() bool { return o == OrderLastLoginAt }

// checkOrder refuses an order q cannot be listed in.
func (q UserQuery) checkOrder() error {
	if q.Order == OrderDisabledAt && (q.Disabled == nil || !*q.Disabled) {
		return ErrOrderNeedsDisabled
	}
	return nil
}

// UserQuery selects a page of users.
type UserQuery struct {
	// First is the page size, 1..100; the caller validates it.
	First int
	// After is the Cursors entry of the last user already seen; nil for the
	// first page.
	After *Cursor
	// Before, instead of After, asks for the First users just before this
	// cursor, in the same order: the previous page. Backward with Before nil
	// asks for the last page.
	Before   *Cursor
	Backward bool
	// Search matches a nickname (case-insensitive, % _ and \ literal) or
	// exactly an openid, a unionid, a phone or a user id. A phone may be
	// typed as people do (see parsePhoneSearch): 13800138000, +86 138 0013
	// 8000, 0086-138…; four digits alone are the last four of a phone.
	// Such a search matches the start of a nickname, not anywhere in it. It
	// matches anywhere in the nickname when it has three letters or digits
	// in a row, which the trigram index can narrow; a shorter one ("王",
	// "zq", "%") matches the start of the nickname, on an index of its own,
	// since anywhere would read every user. Under LC_CTYPE C only ASCII
	// ones count, as for pg_trgm. Empty means no search.
	Search string
	// CreatedAfter is inclusive and CreatedBefore exclusive, so adjacent
	// ranges neither overlap nor leave a gap.
	CreatedAfter, CreatedBefore *time.Time
	// Disabled, when set, keeps only disabled (true) or enabled users.
	Disabled *bool
	// Deletion keeps users by deletion state: DeletionNone, DeletionPending
	// or DeletionErased; empty keeps every user not erased.
	Deletion string
	// NeedsReview, when set, keeps only users whose nickname or avatar
	// awaits an admin (REVIEW), or (false) only the others.
	NeedsReview *bool
	// Order is the sort key; empty means OrderCreatedAt.
	Order UserOrder
	// Desc pages from the largest key down.
	Desc bool
	// CountOnly skips the page: a client that asked only for the count
	// (the dashboard fetches it apart) does not pay for both.
	CountOnly bool
	// WithTotal asks for TotalCount: a separate COUNT over every match,
	// which at a million users costs far more than the page itself.
	WithTotal bool
	// Columns, when not zero, are the only columns a page without filters
	// needs (see PageColumns); other pages read every column.
	Columns PageColumns
}

// Cursor is a position in a ListUsers ordering: the sort key value and the id, for keyset pagination.
type Cursor struct {
	Order UserOrder
	Desc  bool
	// Key is the user's sort key; nil is a NULL last_login_at.
	Key *time.Time
	ID  string
}

// ErrBadCursor is returned for a cursor that does not decode, or that belongs
// to another order or direction than the query it is used with.
var ErrBadCursor = errors.New("store: bad cursor")

// cursorVersion is bumped if the encoded form ever changes meaning, so an
// old client's cursor is refused instead of misread.
const cursorVersion = 1

// cursorJSON is the encoded form. Keys are microseconds since the epoch:
// PostgreSQL's own precision, so a key makes the round trip exactly and the
// keyset comparison neither repeats nor skips the user it came from.
type cursorJSON struct {
	V int       `json:"v"`
	O UserOrder `json:"o"`
	D bool      `json:"d,omitempty"`
	K *int64    `json:"k"`
	I string    `json:"i"`
}

// cursorEncoding is strict so that each cursor has one spelling.
var cursorEncoding = base64.RawURLEncoding.Strict()

// Encode returns c as an opaque string for clients: base64url of a small
// versioned JSON object. Clients must not take it apart; its form may change.
func (c Cursor) Encode() string {
	if !jsonPlain(string(c.Order)) || !jsonPlain(c.ID) {
		return c.encodeJSON()
	}
	// What encodeJSON's json.Marshal writes, without its reflection: every
	// page encodes one cursor per user (TestCursor_EncodeAsJSON).
	var a [128]byte
	b := append(a[:0], `{"v":`...)
	b = strconv.AppendInt(b, cursorVersion, 10)
	b = append(append(append(b, `,"o":"`...), c.Order...), '"')
	if c.Desc {
		b = append(b, `,"d":true`...)
	}
	b = append(b, `,"k":`...)
	if c.Key != nil {
		b = strconv.AppendInt(b, c.Key.UnixMicro(), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(append(append(b, `,"i":"`...), c.ID...), `"}`...)
	return cursorEncoding.EncodeToString(b)
}

// encodeJSON is Encode by encoding/json, for any text.
func (c Cursor) encodeJSON() string {
	j := cursorJSON{V: cursorVersion, O: c.Order, D: c.Desc, I: c.ID}
	if c.Key != nil {
		k := c.Key.UnixMicro()
		j.K = &k
	}
	b, _ := json.Marshal(j) // cannot fail: plain fields only
	return cursorEncoding.EncodeToString(b)
}

// jsonPlain reports whether s is only letters, digits, - and _: JSON
// quotes it as it is.
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxCursorLen bounds what DecodeCursor reads; a real cursor is about 120.
const maxCursorLen = 256

// DecodeCursor parses what Encode returned. Anything else is ErrBadCursor:
// bad base64 or JSON, unknown fields or version, an unknown order, an id that
// is not a uuid, or a missing key where the order has no NULLs.
func DecodeCursor(s string) (*Cursor, error) {
	if len(s) > maxCursorLen {
		return nil, ErrBadCursor
	}
	b, err := cursorEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j cursorJSON
	if err := dec.Decode(&j); err != nil || dec.More() {
		return nil, ErrBadCursor
	}
	if j.V != cursorVersion {
		return nil, ErrBadCursor
	}
	if _, ok := j.O.keyExpr(); !ok {
		return nil, ErrBadCursor
	}
	id, err := uuid.Parse(j.I)
	if err != nil || id.String() != j.I {
		return nil, ErrBadCursor
	}
	c := &Cursor{Order: j.O, Desc: j.D, ID: j.I}
	if j.K != nil {
		k := time.UnixMicro(*j.K).UTC()
		if !cursorTimeInRange(k) {
			return nil, ErrBadCursor
		}
		c.Key = &k
	} else if !j.O.nullable() {
		return nil, ErrBadCursor
	}
	// The JSON decoder takes other spellings of the same object (field
	// names in any case, "d":false, spaces): only Encode's is a cursor.
	if c.Encode() != s {
		return nil, ErrBadCursor
	}
	return c, nil
}

// cursorTimeInRange reports whether t, a key from a cursor, is within
// years 1 to 9999: PostgreSQL cannot take every time.Time (a key of
// -290308 years fails the query), and no row's time is outside them.
func cursorTimeInRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// ListUsers returns a page of users in q.Order, by keyset pagination: the
// page starts right after q.After's (key, id) (or ends right before
// q.Before's), so users added or removed between pages never make a user
// appear twice or be skipped, and a deep page costs the same as the first.
func (s *Store) ListUsers(ctx context.Context, q UserQuery) (*models.Page[*models.User], error) {
	if q.Order == "" {
		q.Order = OrderCreatedAt
	}
	key, ok := q.Order.keyExpr()
	if !ok {
		return nil, fmt.Errorf("store: listing users: unknown order %q", q.Order)
	}
	if err := q.checkOrder(); err != nil {
		return nil, err
	}
	if q.First < 1 || q.First > 100 {
		return nil, fmt.Errorf("store: listing users: first %d is not within 1..100", q.First)
	}
	if q.Before != nil {
		q.Backward = true
	}
	if q.After != nil && q.Backward {
		return nil, fmt.Errorf("store: listing users: both after and before")
	}
	for _, c := range []*Cursor{q.After, q.Before} {
		if c != nil && (c.Order != q.Order || c.Desc != q.Desc) {
			return nil, ErrBadCursor
		}
	}

	p := &models.Page[*models.User]{}
	if q.CountOnly {
		return p, s.countUsers(ctx, q, p)
	}
	// A backward page is read in the opposite order from its cursor, then
	// turned round.
	dir, cmp := "ASC", ">"
	if q.Desc != q.Backward {
		dir, cmp = "DESC", "<"
	}
	c := q.After
	if q.Backward {
		c = q.Before
	}
	if c != nil && c.Key == nil && !q.Order.nullable() {
		return nil, ErrBadCursor
	}
	users, plain, err := s.listPlain(ctx, q, dir, cmp, c)
	if err != nil {
		return nil, err
	}
	if !plain {
		sel := s.db.NewSelect().Model(&users)
		filterUsers(sel, q, s.probeTrigram(ctx))
		if c != nil {
			// A row comparison, which the (key, id) index serves as one range.
			var k any = bun.Safe("'-infinity'")
			if c.Key != nil {
				k = *c.Key
			}
			sel.Where(fmt.Sprintf("(%s, u.id) %s (?::timestamptz, ?::uuid)", key, cmp), k, c.ID)
		}
		// One more than asked tells whether there is a next page.
		sel.OrderExpr(fmt.Sprintf("%s %s, u.id %s", key, dir, dir)).Limit(int64(q.First) + 1)
		if err := sel.Scan(ctx); err != nil {
			return nil, fmt.Errorf("store: listing users: %w", err)
		}
	}

	more := len(users) > q.First
	if more {
		users = users[:q.First]
	}
	if q.Backward {
		slices.Reverse(users)
		p.HasPreviousPage, p.HasNextPage = more, q.Before != nil
	} else {
		p.HasNextPage, p.HasPreviousPage = more, q.After != nil
	}
	p.Items = users
	p.Cursors = make([]string, len(users))
	for i, u := range users {
		p.Cursors[i] = Cursor{Order: q.Order, Desc: q.Desc, ID: u.ID, Key: q.Order.keyOf(u)}.Encode()
	}

	if q.WithTotal {
		if err := s.countUsers(ctx, q, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// countUsers sets p.TotalCount to the number of users q's filters match.
func (s *Store) countUsers(ctx context.Context, q UserQuery, p *models.Page[*models.User]) error {
	cnt := s.db.NewSelect().Model((*models.User)(nil))
	filterUsers(cnt, q, s.probeTrigram(ctx))
	n, err := cnt.Count(ctx)
	if err != nil {
		return fmt.Errorf("store: counting users: %w", err)
	}
	p.TotalCount = int(n)
	return nil
}

// likeEscaper makes a string match itself literally in LIKE, whose default
// escape character is the backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Values of Store.trgmWide.
const (
	trgmWideYes = 1
	trgmWideNo  = 2
)

// probeTrigram asks the database once whether pg_trgm counts a Chinese
// character as a word character. pg_trgm decides by the database's
// LC_CTYPE, not by Unicode: under C or POSIX (scripts/dev.sh's cluster)
// only ASCII letters and digits are, and show_trgm('王小明') is empty;
// under C.UTF-8 or en_US.UTF-8 it is not. An error (no pg_trgm before the
// first Migrate) leaves it unknown, to ask again at the next search.
func (s *Store) probeTrigram(ctx context.Context) bool {
	switch s.trgmWide.Load() {
	case trgmWideYes:
		return true
	case trgmWideNo:
		return false
	}
	var wide bool
	if err := s.db.QueryRowContext(ctx, "SELECT show_trgm('王小明') <> '{}'").Scan(&wide); err != nil {
		return true // the Unicode rule, as before the database could tell
	}
	if wide {
		s.trgmWide.Store(trgmWideYes)
	} else {
		s.trgmWide.Store(trgmWideNo)
	}
	return wide
}

// trigramSearchable reports whether a substring search for s can be
// narrowed by users_nickname_trgm_idx. pg_trgm makes the trigrams of a
// '%…%' pattern from its runs of word characters (punctuation and spaces
// split them): a run of three or more gives one that narrows the search;
// shorter runs give none, or beside a space only word-edge ones ("ab ")
// that match nearly as many rows, and PostgreSQL reads every user. Word
// characters are letters and digits, only ASCII ones unless wide (the
// database's LC_CTYPE decides, see probeTrigram): under LC_CTYPE=C
// "王小明" has no trigram, and as a substring search it would read the
// whole index and every user.
func trigramSearchable(s string, wide bool) bool {
	run := 0
	for _, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		if !wide && r > unicode.MaxASCII {
			word = false
		}
		if !word {
			run = 0
			continue
		}
		if run++; run == 3 {
			return true
		}
	}
	return false
}

// filterUsers adds q's filters and search, but not its cursor: TotalCount
// counts every match, not only those after the cursor. wide is
// probeTrigram's answer.
func filterUsers(sel *bun.SelectQuery, q UserQuery, wide bool) {
	if q.CreatedAfter != nil {
		sel.Where("u.created_at >= ?", *q.CreatedAfter)
	}
	if q.CreatedBefore != nil {
		sel.Where("u.created_at < ?", *q.CreatedBefore)
	}
	if q.Disabled != nil {
		if *q.Disabled {
			sel.Where("u.disabled_at IS NOT NULL")
		} else {
			sel.Where("u.disabled_at IS NULL")
		}
	}
	switch q.Deletion {
	case DeletionNone:
		sel.Where("u.erase_at IS NULL AND u.deleted_at IS NULL")
	case DeletionPending:
		sel.Where("u.erase_at IS NOT NULL AND u.deleted_at IS NULL")
	case DeletionErased:
		sel.Where("u.deleted_at IS NOT NULL")
	default:
		sel.Where("u.deleted_at IS NULL")
	}
	if q.NeedsReview != nil {
		// ARRAY(…) runs once, over user_moderation_review_idx's few rows;
		// a state counts only while it is about the user's current value.
		op := "u.id = ANY"
		if !*q.NeedsReview {
			op = "u.id <> ALL"
		}
		sel.Where(op + `(ARRAY(SELECT m.user_id FROM user_moderation AS m JOIN users AS mu ON mu.id = m.user_id
			WHERE (m.nickname_state = 'REVIEW' OR m.avatar_state = 'REVIEW')
			AND ((m.nickname_state = 'REVIEW' AND m.nickname = mu.nickname) OR (m.avatar_state = 'REVIEW' AND m.avatar_url = mu.avatar_url))))`)
	}
	if q.Search == "" {
		return
	}
	phone := parsePhoneSearch(q.Search)
	sel.WhereGroup(" AND ", func(sq *bun.SelectQuery) *bun.SelectQuery {
		// What reads as a phone number (see parsePhoneSearch) is matched
		// against nicknames' starts only. Anywhere in the nickname, "8000"
		// found hundreds of users whose nickname holds it and buried the
		// one whose number ends with it; and a whole number's digit
		// trigrams are common in nicknames, so the substring search cost
		// 20-80 ms at a million users beside the phone lookup's 1.
		if phone.tail == "" && len(phone.numbers) == 0 && trigramSearchable(q.Search, wide) {
			sq.Where("u.nickname ILIKE ?", "%"+likeEscaper.Replace(q.Search)+"%")
		} else {
			// Exactly users_nickname_prefix_idx's expression, and a
			// constant pattern: a range scan on the index.
			sq.Where("lower(u.nickname) LIKE lower(?)", likeEscaper.Replace(q.Search)+"%")
		}
		sq.WhereOr("u.phone = ?", q.Search)
		if len(phone.numbers) > 0 {
			sq.WhereOr("u.phone IN (?)", bun.List(phone.numbers))
		}
		if phone.tail != "" {
			// Exactly users_phone_tail_idx's expression.
			sq.WhereOr("right(u.phone, 4) = ?", phone.tail)
		}
		sq.
			// ARRAY(…) runs once, before the scan, and "id = ANY" of its
			// result is an index condition on the primary key, so every arm
			// of this OR can be a bitmap index scan. An EXISTS here would
			// be a subplan the planner can only check row by row.
			WhereOr("u.id = ANY(ARRAY(SELECT i.user_id FROM identities AS i WHERE i.openid = ? OR i.unionid = ?))", q.Search, q.Search)
		if id, err := uuid.Parse(q.Search); err == nil {
			sq.WhereOr("u.id = ?", id.String())
		}
		return sq
	})
}
