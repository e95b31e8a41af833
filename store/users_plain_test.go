package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/dialect/pgdialect"

	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/store/storetest"
)

// TestStore_ListUsers_PlainSameAsFiltered: a page that filters nothing is
// read by listPlain's prepared statement, any other by Bun. On a database of
// its own (a plain page reads every user), each order, direction and
// cursor, forward and backward, pages the same users with every column
// the same as a filter that keeps everyone (created after year 1).
func TestStore_ListUsers_PlainSameAsFiltered(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	w := newWindow()
	users := seedUsers(t, st, w, 23, 0)
	g := models.GenderFemale
	if _, err := st.DB().NewUpdate().Model(users[4]).Set("nickname = 'x&<y>', avatar_url = '/a.jpg', gender = ?, language = 'zh_CN', city = 'c', province = 'p', country = 'CN', phone = '+8613800000000', phone_country_code = '86', disabled_at = now(), disabled_reason = 'r'", g).WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	everyone := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, order := range []store.UserOrder{store.OrderCreatedAt, store.OrderLastLoginAt} {
		for _, desc := range []bool{false, true} {
			for _, backward := range []bool{false, true} {
				q := store.UserQuery{First: 5, Order: order, Desc: desc, Backward: backward}
				f := q
				f.CreatedAfter = &everyone
				pages := 0
				for {
					got, err := st.ListUsers(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					want, err := st.ListUsers(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s desc=%v backward=%v page %d: plain %+v, filtered %+v", order, desc, backward, pages, got, want)
					}
					pages++
					more := got.HasNextPage
					if backward {
						more = got.HasPreviousPage
					}
					if !more {
						break
					}
					if backward {
						c, _ := store.DecodeCursor(got.Cursors[0])
						q.Before, f.Before = c, c
					} else {
						c, _ := store.DecodeCursor(got.Cursors[len(got.Cursors)-1])
						q.After, f.After = c, c
					}
				}
				if pages != 5 {
					t.Fatalf("%s desc=%v backward=%v: %d pages of 23 users, want 5", order, desc, backward, pages)
				}
			}
		}
	}
}

// TestStore_UserColumns_AreTheModel: listPlain (and, but for the deletion
// state, the login statements)
// name users' columns by hand: they must be models.User's, all of them, in
// its order, or a column added to the model would come back empty.
func TestStore_UserColumns_AreTheModel(t *testing.T) {
	var cols []string
	for _, f := range storetest.Open(t).DB().Table(reflect.TypeFor[models.User]()).Fields {
		cols = append(cols, "u."+f.Name)
	}
	got := strings.Join(strings.Fields(strings.ReplaceAll(store.UserColumns, ",", " ")), " ")
	if want := strings.Join(cols, " "); got != want {
		t.Fatalf("userColumns is\n%s\nmodels.User has\n%s", got, want)
	}
}

// TestStore_PageColumns_AreListColumns: the columns a narrowed page may read
// are listColumns, all of them, in its order; and a page that names none
// (Columns zero) reads them all.
func TestStore_PageColumns_AreListColumns(t *testing.T) {
	got := strings.Join(store.PageColumnNames(), ", ")
	if want := strings.Join(strings.Fields(store.UserColumns), " "); got != want {
		t.Fatalf("pageColumns are\n%s\nlistColumns are\n%s", got, want)
	}
}

// TestStore_ListUsers_NarrowPagesBounded: a plain page reads only the
// columns it names (and the id and its order's key), but only the first
// MaxNarrowPages sets of columns get a statement of their own: the set
// follows the client's selection, and each is prepared on every
// connection. After that, a new set reads every column.
func TestStore_ListUsers_NarrowPagesBounded(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	ctx := context.Background()
	users := seedUsers(t, st, newWindow(), 3, 0)
	if _, err := st.DB().ExecContext(ctx, `UPDATE users SET city = 'c', province = 'p' WHERE id = ANY(?::uuid[])`, pgdialect.Array([]string{users[0].ID, users[1].ID, users[2].ID})); err != nil {
		t.Fatal(err)
	}
	page := func(cols store.PageColumns) *models.User {
		t.Helper()
		p, err := st.ListUsers(ctx, store.UserQuery{First: 1, Order: store.OrderCreatedAt, Desc: true, Columns: cols})
		if err != nil || len(p.Items) != 1 {
			t.Fatal(p, err)
		}
		return p.Items[0]
	}
	if u := page(store.ColCity); u.City == nil || u.Province != nil || u.ID == "" || u.CreatedAt.IsZero() {
		t.Fatalf("a page of the city: %+v", u)
	}
	if u := page(0); u.City == nil || u.Province == nil {
		t.Fatalf("a page of every column: %+v", u)
	}
	// Sets of columns below ColCreatedAt, each a statement of its own.
	for c := store.PageColumns(1); int(c) <= store.MaxNarrowPages+1; c++ {
		page(c)
	}
	if u := page(store.ColCity | store.ColNickname | store.ColGender | store.ColLanguage | store.ColDisabledAt); u.Province == nil {
		t.Fatalf("a new set of columns past the bound read only those: %+v", u)
	}
	if u := page(store.ColCity); u.Province != nil {
		t.Fatalf("a set prepared before the bound read every column: %+v", u)
	}
}

// TestStore_ListUsers_NarrowPagesFailuresDoNotCount: a page whose
// statement fails to prepare (the database down, the request gone) does
// not use up one of the MaxNarrowPages sets: the bound counts distinct
// sets, so that an outage under load does not turn narrow pages off until
// the next restart.
func TestStore_ListUsers_NarrowPagesFailuresDoNotCount(t *testing.T) {
	t.Parallel()
	st := storetest.OpenFresh(t)
	users := seedUsers(t, st, newWindow(), 1, 0)
	if _, err := st.DB().ExecContext(context.Background(), `UPDATE users SET city = 'c', province = 'p' WHERE id = ?`, users[0].ID); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for range 2 * store.MaxNarrowPages {
		if _, err := st.ListUsers(gone, store.UserQuery{First: 1, Order: store.OrderCreatedAt, Desc: true, Columns: store.ColCity}); err == nil {
			t.Fatal("a page with its context cancelled succeeded")
		}
	}
	p, err := st.ListUsers(context.Background(), store.UserQuery{First: 1, Order: store.OrderCreatedAt, Desc: true, Columns: store.ColProvince})
	if err != nil || len(p.Items) != 1 {
		t.Fatal(p, err)
	}
	if u := p.Items[0]; u.Province == nil || u.City != nil {
		t.Fatalf("after failed pages, a new set of columns read every column: %+v", u)
	}
}
