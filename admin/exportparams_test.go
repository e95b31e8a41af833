package admin_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"wxlogin/admin"
	"wxlogin/graph/gqlmodel"
)

// Every field of the users page's filter has an export parameter of the
// same name, so that the export can narrow to whatever the page shows.
func TestExportParams_EveryUserFilterField(t *testing.T) {
	params := admin.ExportParams()
	ft := reflect.TypeFor[gqlmodel.UserFilter]()
	for i := range ft.NumField() {
		name, _, _ := strings.Cut(ft.Field(i).Tag.Get("json"), ",")
		if !slices.Contains(params, name) {
			t.Errorf("UserFilter.%s has no export parameter %q", ft.Field(i).Name, name)
		}
	}
}
