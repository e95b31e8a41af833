package graph

import (
	"bytes"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"wxlogin/graph/scalar"
	"wxlogin/models"
)

// FuzzAppendQuoted holds FastUsers's string writer to gqlgen's
// MarshalString (and MarshalID), which the executor writes Strings and IDs
// with: the same bytes for any string, invalid UTF-8 included.
func FuzzAppendQuoted(f *testing.F) {
	for _, s := range []string{"", "plain", "<b>\"Tom\" & \\Jerry</b>", "\u2028\u2029\x7f\x01\x1f\t\r\n", "你好 😀", "\xff\xfe", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		if got := appendQuoted([]byte("x"), s); string(got[1:]) != want.String() {
			t.Fatalf("%q: appendQuoted %s, MarshalString %s", s, got[1:], want.String())
		}
	})
}

// TestAppendTime_IsMarshalTime: FastUsers's Time writer against
// scalar.MarshalTime, the executor's, for nil, the zero time, zones,
// nanoseconds and the years at the edges.
func TestAppendTime_IsMarshalTime(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	for _, tm := range []*time.Time{nil, {}, ptr(time.Date(2026, 12, 7, 4, 5, 6, 789, time.UTC)),
		ptr(time.Date(2026, 12, 7, 4, 5, 6, 0, shanghai)), ptr(time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)),
		ptr(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)), ptr(time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)),
		ptr(time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC))} {
		want := "null"
		if tm != nil {
			var b bytes.Buffer
			scalar.MarshalTime(*tm).MarshalGQL(&b)
			want = b.String()
		}
		if got := string(appendTime(nil, tm)); got != want {
			t.Errorf("%v: appendTime %s, MarshalTime %s", tm, got, want)
		}
	}
	for _, g := range []models.Gender{models.GenderMale, models.GenderFemale, models.Gender(0), models.Gender(9)} {
		var want bytes.Buffer
		g.MarshalGQL(&want)
		u := &models.User{Gender: &g}
		got := appendUser(nil, []*ast.Field{{Name: "gender", Alias: "gender"}}, [][]byte{[]byte(`"gender":`)}, u, nil)
		if string(got) != `{"gender":`+want.String()+`}` {
			t.Errorf("gender %d: %s, MarshalGQL %s", g, got, want.String())
		}
	}
}

func ptr[T any](v T) *T { return &v }
