package store_test

import (
	"slices"
	"testing"

	"wxlogin/store"
)

func TestParsePhoneSearch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in      string
		numbers []string
		tail    string
	}{
		{"13800138000", []string{"+8613800138000"}, ""},
		{"138 0013 8000", []string{"+8613800138000"}, ""},
		{"138-0013-8000", []string{"+8613800138000"}, ""},
		{"１３８００１３８０００", []string{"+8613800138000"}, ""},
		{"8613800138000", []string{"+8613800138000"}, ""},
		{"+86 138 0013 8000", []string{"+8613800138000"}, ""},
		{"＋８６　１３８００１３８０００", []string{"+8613800138000"}, ""},
		{"0086 138 0013 8000", []string{"+8613800138000"}, ""},
		{"(+86) 138.0013.8000", []string{"+8613800138000"}, ""},
		{"+14155552671", []string{"+14155552671"}, ""},
		{"+1 (415) 555-2671", []string{"+14155552671"}, ""},
		{"0014155552671", []string{"+14155552671"}, ""},
		{"852 9123 4567", []string{"+85291234567"}, ""},
		{"8000", nil, "8000"},
		{"８０００", nil, "8000"},
		// No phone: too short, too long, letters, a leading zero after the
		// country code's place, a tail with separators or a plus.
		{"80 00", nil, ""},
		{"+8000", nil, ""},
		{"800", nil, ""},
		{"1380013", nil, ""},
		{"1234567890123456", nil, ""},
		{"0138 0013 8000", nil, ""},
		{"138001380OO", nil, ""},
		{"王小明", nil, ""},
		{"", nil, ""},
		{"+", nil, ""},
		{"00", nil, ""},
	} {
		numbers, tail := store.ParsePhoneSearch(c.in)
		if !slices.Equal(numbers, c.numbers) || tail != c.tail {
			t.Errorf("parsePhoneSearch(%q) = %q, tail %q; want %q, tail %q", c.in, numbers, tail, c.numbers, c.tail)
		}
	}
}
