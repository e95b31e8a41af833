package models

import (
	"strings"
	"testing"
	"unicode"
)

// TestTextProblem holds the shown-text rule to issue 17 #10's bypasses and
// to what real nicknames hold.
func TestTextProblem(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"\u034f",                                 // combining grapheme joiner alone
		"\u17b4\u17b5",                           // Khmer inherent vowels: invisible
		"a" + strings.Repeat("\u0489", 30),       // enclosing marks pile up
		"a" + strings.Repeat("\u0300\u20dd", 15), // nonspacing and enclosing, alternating
		"ad\u200dmin",                            // a joiner between letters
		"\u200dx", "x\u200d", "😀\u200da",         // a joiner without emoji on both sides
		"admin\u202e",                     // bidi override
		"a\u200bb", "\ufeffa", "a\u2060b", // zero-width space, BOM, word joiner
		"\u3164", "\u115f", "\u2800", // blank letters
		"\U000e0041",                   // a tag character
		"\u0300", "  \u0301", "\ufe0f", // marks on nothing
		"a\x00", "a\n", "\xff",
		"a" + strings.Repeat("\u0300", MaxCombiningRun+1),
	} {
		if TextProblem(s, false) == "" {
			t.Errorf("%+q is allowed", s)
		}
	}
	for _, s := range []string{
		"", "小明", "阿花🌸", "👨\u200d👩\u200d👧", "❤\ufe0f\u200d🔥", "👩🏽\u200d💻", "🏳\ufe0f\u200d🌈",
		"1\ufe0f\u20e3", "Nguye\u0302\u0303n", "Zoë", "O'Brien-Smith", "ஸ்ரீ", "한국어", "מרים", "محمد",
		"a" + strings.Repeat("\u0300", MaxCombiningRun),
	} {
		if p := TextProblem(s, false); p != "" {
			t.Errorf("%+q: %s", s, p)
		}
	}
	if TextProblem("封号原因：\r\n刷单", true) != "" || TextProblem("a\nb", false) == "" || TextProblem("a\n\u0301", true) == "" {
		t.Error("line breaks: allowed only with lines, and no mark after one")
	}
}

// TestHiddenRune_DefaultIgnorable: every Default_Ignorable_Code_Point
// (Unicode's derivation: Other_Default_Ignorable_Code_Point, Cf and the
// variation selectors, less white space and a few format characters that
// show) is hidden, but the joiner and the variation selectors, which
// TextProblem allows in context.
func TestHiddenRune_DefaultIgnorable(t *testing.T) {
	t.Parallel()
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r == zwj || unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.White_Space, r) ||
			unicode.Is(unicode.Prepended_Concatenation_Mark, r) || (0xFFF9 <= r && r <= 0xFFFB) || (0x13430 <= r && r <= 0x1343F) {
			continue
		}
		if unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf) && !HiddenRune(r) {
			t.Errorf("%U is default-ignorable and not hidden", r)
		}
	}
}
