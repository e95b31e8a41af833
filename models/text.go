package models

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// zwj is the zero-width joiner: inside emoji sequences (👨‍👩‍👧) it is
// needed, between letters ("ad\u200dmin") it only hides.
const zwj = '\u200D'

// pictographic approximates Unicode's Extended_Pictographic, which Go's
// unicode package lacks, for the neighbours of a joiner: emoji are Other
// Symbols (So), and a skin tone (U+1F3FB–U+1F3FF, Sk) may end the part
// before the joiner. Letters, digits and punctuation are not.
func pictographic(r rune) bool {
	return unicode.Is(unicode.So, r) || 0x1F3FB <= r && r <= 0x1F3FF
}

// combining is a mark drawn on the character before it: nonspacing (Mn,
// which holds the variation selectors that pick an emoji's look) and
// enclosing (Me: ⃝ around a character, the keycap of 1️⃣). Both stack,
// so both count towards MaxCombiningRun.
func combining(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me)
}

// visibleBase is a character that shows by itself: a letter, digit,
// punctuation or symbol. Text of only spaces and marks shows nothing.
func visibleBase(r rune) bool {
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}

// TextProblem returns what is wrong with s as text shown to other people
// (a nickname, a profile field, an operator's reason), or "" when nothing
// is; the caller puts the field's name before it. The rule, by Unicode
// property rather than a list of characters:
//   - valid UTF-8;
//   - no HiddenRune: controls (but line breaks and tabs when lines is
//     set), every format character (Cf: bidi overrides, zero-width
//     spaces, tags), the other default-ignorable code points (U+034F,
//     the Khmer inherent vowels, Hangul fillers), noncharacters;
//   - a zero-width joiner only between emoji;
//   - at most MaxCombiningRun marks (Mn and Me) on one character, and
//     none before the first;
//   - when not empty, at least one letter, digit, punctuation or symbol.
func TextProblem(s string, lines bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	const hidden = "must not contain control, format or invisible characters"
	marks, visible := 0, false
	base := rune(-1) // the character the next marks go on; -1 before any
	for i, r := range s {
		switch {
		case lines && (r == '\n' || r == '\r' || r == '\t'):
			base, marks = -1, 0
		case r == zwj:
			next, _ := utf8.DecodeRuneInString(s[i+len(string(zwj)):])
			if base < 0 || !pictographic(base) || !pictographic(next) {
				return hidden
			}
			base, marks = -1, 0
		case HiddenRune(r):
			return hidden
		case combining(r):
			if base < 0 {
				return "must not start a line or follow a space or joiner with a combining mark"
			}
			if marks++; marks > MaxCombiningRun {
				return fmt.Sprintf("has more than %d combining marks on one character", MaxCombiningRun)
			}
		case unicode.IsSpace(r):
			base, marks = -1, 0
		default:
			base, marks = r, 0
			visible = visible || visibleBase(r)
		}
	}
	if s != "" && !visible {
		return "must contain a visible letter, digit or symbol"
	}
	return ""
}
