package gqlhttp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"

	"wxlogin/graph"
	"wxlogin/graph/scalar"
	"wxlogin/models"
)

// executorString is what a String field's value becomes in a response the
// executor wrote: gqlgen's MarshalString, then encoding/json's escaping of
// the json.RawMessage.
func executorString(s string) string {
	var raw, out bytes.Buffer
	graphql.MarshalString(s).MarshalGQL(&raw)
	json.HTMLEscape(&out, raw.Bytes())
	return out.String()
}

var stringCases = []string{
	"", "plain", "小明 😀", "<script>&amp;</script>", `"quoted" \back\slash`,
	"tab\tcr\rnl\nnul\x00bell\x07esc\x1bunit\x1f", "\u2028line\u2029para", "\x7f",
	"invalid \xff\xfe utf-8 \xe2\x80", "\u2027\u202a near U+2028",
}

func TestAppendString_AsTheExecutor(t *testing.T) {
	for _, s := range stringCases {
		if got, want := string(appendString(nil, s)), executorString(s); got != want {
			t.Errorf("%q: got %s, the executor writes %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, s)), executorString(s); got != want {
			t.Fatalf("%q: got %s, the executor writes %s", s, got, want)
		}
	})
}

func TestAppendTime_AsTheExecutor(t *testing.T) {
	for _, tm := range []time.Time{{}, time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 10, 0, 0, 123456000, time.FixedZone("CST", 8*3600))} {
		var want bytes.Buffer
		scalar.MarshalTime(tm).MarshalGQL(&want)
		if got := string(appendTime(nil, tm)); got != want.String() {
			t.Errorf("%v: got %s, the executor writes %s", tm, got, want.String())
		}
	}
	for _, g := range []models.Gender{models.GenderUnknown, models.GenderMale, models.GenderFemale} {
		var want bytes.Buffer
		g.MarshalGQL(&want)
		if got := string(appendResponseGender(g)); got != want.String() {
			t.Errorf("%v: got %s, the executor writes %s", g, got, want.String())
		}
	}
}

// appendResponseGender is the gender field of a one-field plan's answer.
func appendResponseGender(g models.Gender) []byte {
	p := &mePlan{key: quoted("me"), fields: []meField{{key: quoted("g"), name: "gender"}}}
	b := p.appendResponse(nil, &models.User{Gender: &g}, "")
	return bytes.TrimSuffix(bytes.TrimPrefix(b, []byte(`{"data":{"me":{"g":`)), []byte("}}}"))
}

// TestPlanMe: which operations get a plan. The rest go to the executor.
func TestPlanMe(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, c := range []struct {
		doc, op string
		plan    string // "<me's key>: <key>=<field> …", "" for none
	}{
		{`{ me { id } }`, "", "me: id=id"},
		{`query Q { who: me { n: nickname t: __typename createdAt lastLoginAt } }`, "", "who: n=nickname t=__typename createdAt=createdAt lastLoginAt=lastLoginAt"},
		{`query A { me { id } } query B { me { city } }`, "B", "me: city=city"},
		{`{ me { id id } }`, "", ""},                  // a merged key: the executor's
		{`{ me { id a: id } }`, "", "me: id=id a=id"}, // two keys, one field: fine
		{`{ me { id disabled } }`, "", ""},
		{`{ me { disabledAt } }`, "", ""},
		{`{ me { disabledReason } }`, "", ""},
		{`{ me { identities { appId } } }`, "", ""},
		{`{ me { sessions { id } } }`, "", ""},
		{`{ me { id @skip(if: false) } }`, "", ""},
		{`{ me @include(if: true) { id } }`, "", ""},
		{`{ me { ...F } } fragment F on User { id }`, "", ""},
		{`{ me { ... on User { id } } }`, "", ""},
		{`query($x: Boolean!) { me { id @include(if: $x) } }`, "", ""},
		{`{ me { id } admin { id } }`, "", ""},
		{`{ __typename }`, "", ""},
		{`mutation { logout }`, "", ""},
	} {
		doc, errs := gqlparser.LoadQueryWithRules(schema, c.doc, validationRules(false)())
		if errs != nil {
			t.Fatalf("%s: %v", c.doc, errs)
		}
		got := ""
		if p := planMe(doc.Operations.ForName(c.op)); p != nil {
			got = string(bytes.Trim(p.key, `"`)) + ":"
			for _, f := range p.fields {
				got += " " + string(bytes.Trim(f.key, `"`)) + "=" + f.name
			}
		}
		if got != c.plan {
			t.Errorf("%s: plan %q, want %q", c.doc, got, c.plan)
		}
	}
}

// TestPlanCache_Bounded: a full cache makes room by evicting one plan,
// not by forgetting all of them; a key too large is not kept.
func TestPlanCache_Bounded(t *testing.T) {
	var c planCache
	p := &mePlan{}
	for i := range maxPlans + 100 {
		c.put(strings.Repeat("k", i+1), p)
		if got := len(c.m); got != min(i+1, maxPlans) {
			t.Fatalf("after %d puts: %d plans", i+1, got)
		}
	}
	c.put(strings.Repeat("x", maxPlanKey+1), p)
	if c.get(strings.Repeat("x", maxPlanKey+1)) != nil {
		t.Fatal("kept a key over maxPlanKey")
	}
}
