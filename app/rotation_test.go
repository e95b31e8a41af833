package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRekeyCmd_Refuses: rekey says what is missing or wrong before it
// connects anywhere, and never quotes a key.
func TestRekeyCmd_Refuses(t *testing.T) {
	t.Parallel()
	weak := strings.Repeat("01", 32)
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"SECRET_KEY": goodKey}, nil, "DATABASE_URL is required"},
		{map[string]string{"DATABASE_URL": "postgres://nowhere.invalid/x"}, nil, "SECRET_KEY is required"},
		{map[string]string{"DATABASE_URL": "postgres://nowhere.invalid/x", "SECRET_KEY": weak}, nil, "SECRET_KEY is not random"},
		{map[string]string{"DATABASE_URL": "postgres://nowhere.invalid/x", "SECRET_KEY": goodKey, "SECRET_KEY_PREVIOUS": previousKey + "," + weak}, nil, "SECRET_KEY_PREVIOUS entry 2 is not random"},
		{map[string]string{"DATABASE_URL": "postgres://nowhere.invalid/x", "SECRET_KEY": goodKey}, []string{"-batch", "0"}, "-batch must be from 1 to 10000"},
	} {
		var out bytes.Buffer
		err := Run(context.Background(), append([]string{"rekey"}, tc.args...), envOf(tc.env), nil, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%v %v: err = %v, want %q", tc.env, tc.args, err, tc.want)
		}
		for _, k := range []string{goodKey, previousKey, weak} {
			if strings.Contains(err.Error()+out.String(), k) {
				t.Fatalf("%v: quotes a key: %v\n%s", tc.env, err, out.String())
			}
		}
	}
}
