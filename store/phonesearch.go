package store

import (
	"regexp"
	"strings"
)

// phoneSearch is what a users search means as a phone number: whole
// numbers in E.164, to compare exactly on users_phone_key, and a tail, the
// last four digits, to compare on users_phone_tail_idx.
type phoneSearch struct {
	numbers []string
	tail    string
}

// phoneTailLen is how many trailing digits a tail search is: what people
// read out of a masked number (+86138****8000) or remember of one.
const phoneTailLen = 4

var (
	// mainlandMobile is an 11-digit mainland China mobile number, as people
	// say it without the country code: 1, then 3 to 9, then nine digits.
	mainlandMobile = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	onlyDigits     = regexp.MustCompile(`^[0-9]+$`)
)

// phoneSpelling maps what a phone number is typed with onto its ASCII
// form: full-width digits and plus (a Chinese input method's), and drops
// the separators people group digits with (spaces, ideographic spaces,
// dashes of both widths, dots, brackets).
var phoneSpelling = strings.NewReplacer(
	"０", "0", "１", "1", "２", "2", "３", "3", "４", "4",
	"５", "5", "６", "6", "７", "7", "８", "8", "９", "9", "＋", "+",
	" ", "", "\t", "", "\u3000", "", "-", "", "－", "", ".", "", "(", "", ")", "", "（", "", "）", "",
)

// parsePhoneSearch reads s as people type phone numbers, and returns the
// numbers (E.164) and tail it may mean; none for anything that is no
// phone number. Decided forms:
//
//   - exactly four digits: a tail, the last four digits of a number;
//   - 11 digits of a mainland mobile, alone or after 86, +86 or 0086:
//     +86 and the 11 digits;
//   - + and 8 to 15 digits (E.164), or 00 and those digits (the
//     international prefix dialled from China): + and the digits;
//   - 8 to 15 digits alone, not a mainland mobile: an E.164 number typed
//     without its +.
//
// Digits may be grouped by spaces, dashes, dots or brackets, in ASCII or
// full width; a tail must be four digits and nothing else, so "80 00" or
// "+8000" is no tail.
func parsePhoneSearch(s string) phoneSearch {
	var p phoneSearch
	n := phoneSpelling.Replace(s)
	if len(n) == phoneTailLen && onlyDigits.MatchString(n) && n == strings.Map(fullWidthDigit, s) {
		p.tail = n
		return p
	}
	plus := strings.HasPrefix(n, "+")
	d := strings.TrimPrefix(n, "+")
	if !onlyDigits.MatchString(d) {
		return p
	}
	if !plus && strings.HasPrefix(d, "00") {
		d, plus = d[2:], true
	}
	switch {
	case !plus && mainlandMobile.MatchString(d):
		p.numbers = append(p.numbers, "+86"+d)
	case len(d) >= 8 && len(d) <= 15 && d[0] != '0':
		p.numbers = append(p.numbers, "+"+d)
	}
	return p
}

// fullWidthDigit is r as an ASCII digit when it is a full-width one.
func fullWidthDigit(r rune) rune {
	if r >= '０' && r <= '９' {
		return r - '０' + '0'
	}
	return r
}

// PhoneNumbersIn returns the whole phone numbers (E.164) a users search
// means, none when it means none: for whoever records a search and must
// not keep a number whole (the export's audit entry).
func PhoneNumbersIn(search string) []string {
	return parsePhoneSearch(search).numbers
}
