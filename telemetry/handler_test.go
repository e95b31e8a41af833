package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMetricsHandler_Token(t *testing.T) {
	t.Parallel()
	const tok = "0123456789abcdef0123"
	h := NewMetrics().Handler(tok)
	for _, c := range []struct {
		name   string
		auth   []string
		wantOK bool
	}{
		{"Right", []string{"Bearer " + tok}, true},
		{"SchemeAnyCase", []string{"bearer " + tok}, true},
		{"None", nil, false},
		{"Wrong", []string{"Bearer nope"}, false},
		{"NoScheme", []string{tok}, false},
		{"OtherScheme", []string{"Basic " + tok}, false},
		{"TwoHeadersRightFirst", []string{"Bearer " + tok, "Bearer nope"}, false},
		{"TwoHeadersRightSecond", []string{"Bearer nope", "Bearer " + tok}, false},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		for _, a := range c.auth {
			r.Header.Add("Authorization", a)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if (w.Code == http.StatusOK) != c.wantOK {
			t.Errorf("%s: status %d", c.name, w.Code)
		}
	}
}
