package models

import (
	"io"
	"strconv"
	"time"
	"unicode"

	"github.com/uptrace/bun"
)

// User is one person, whichever mini programs they sign in from.
type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID        string  `bun:"id,pk,type:uuid"`
	Nickname  *string `bun:"nickname"`
	AvatarURL *string `bun:"avatar_url"`
	Gender    *Gender `bun:"gender"`
	Language  *string `bun:"language"`
	City      *string `bun:"city"`
	Province  *string `bun:"province"`
	Country   *string `bun:"country"`
	// Phone is E.164 ("+8613800138000"); PhoneCountryCode is the calling code ("86").
	Phone            *string    `bun:"phone"`
	PhoneCountryCode *string    `bun:"phone_country_code"`
	DisabledAt       *time.Time `bun:"disabled_at"`
	// DisabledReason is the operator's note, for admins only.
	DisabledReason *string `bun:"disabled_reason"`
	// DisabledByID is the id of the admin whose disable is in force (nil
	// when enabled, when that admin's row is gone, or when no admin did
	// it). Scan-only: statements that return every column (RETURNING *)
	// fill it, the model's own selects and the login paths' hand-written
	// column lists do not, so read it through Store.DisabledByOf; it is
	// here so that those RETURNING * statements can scan the column.
	DisabledByID *string    `bun:"disabled_by,scanonly"`
	CreatedAt    time.Time  `bun:"created_at,nullzero,notnull,default:current_timestamp"`
	UpdatedAt    time.Time  `bun:"updated_at,nullzero,notnull,default:current_timestamp"`
	LastLoginAt  *time.Time `bun:"last_login_at"`
	// DeletionRequestedAt is when the user asked to delete the account
	// (deleteAccount); with ErasesAt, set while the deletion is pending and
	// cleared by a login that cancels it.
	DeletionRequestedAt *time.Time `bun:"deletion_requested_at"`
	// ErasesAt is when the erasure job erases the account (pending only).
	ErasesAt *time.Time `bun:"erase_at"`
	// DeletedAt marks an erased user: a tombstone whose personal fields are
	// all nil, kept so that audit entries still name an id.
	DeletedAt *time.Time `bun:"deleted_at"`
}

// Disabled reports whether an operator disabled the user.
func (u *User) Disabled() bool { return u.DisabledAt != nil }

// Profile is the part of a user that a mini program may supply: the legacy
// wx.getUserInfo fields today, the nickname/avatar pickers later.
type Profile struct {
	Nickname  string
	AvatarURL string
	Gender    Gender
	Language  string
	City      string
	Province  string
	Country   string
}

// Gender is WeChat's gender number: 0 unknown, 1 male, 2 female. It is stored
// as that number and shown in GraphQL as the Gender enum.
type Gender int16

// The genders WeChat reports.
const (
	GenderUnknown Gender = 0
	GenderMale    Gender = 1
	GenderFemale  Gender = 2
)

var genderNames = map[Gender]string{GenderUnknown: "UNKNOWN", GenderMale: "MALE", GenderFemale: "FEMALE"}

// String returns the GraphQL enum name.
func (g Gender) String() string {
	if s, ok := genderNames[g]; ok {
		return s
	}
	return "UNKNOWN"
}

// MarshalGQL writes the enum name for gqlgen.
func (g Gender) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(g.String()))
}

// UnmarshalGQL reads the enum name for gqlgen.
func (g *Gender) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return Errorf(CodeBadUserInput, "gender must be a string")
	}
	for k, name := range genderNames {
		if name == s {
			*g = k
			return nil
		}
	}
	return Errorf(CodeBadUserInput, "%q is not a valid Gender", s)
}

// HiddenRune reports the characters that profile text may not show, with
// which a nickname could disguise itself: control characters; format
// characters (Cf: the bidi controls that reorder text, zero-width spaces
// and joiners that hide inside "admin", the byte-order mark, tag
// characters) but the zero-width joiner that emoji sequences need (which
// TextProblem allows only between emoji); the rest of Unicode's
// Default_Ignorable_Code_Point (Cf and the variation selectors aside, its
// Other_ part: U+034F, the Khmer inherent vowels, the Hangul fillers, …);
// line and paragraph separators; noncharacters; and the blank Braille
// pattern, which draws as nothing.
func HiddenRune(r rune) bool {
	switch r {
	case 0x200D: // ZWJ, inside emoji such as 👨‍👩‍👧
		return false
	case 0x2028, 0x2029, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800:
		return true
	}
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Noncharacter_Code_Point)
}

// MaxCombiningRun is how many combining marks (Mn and Me) may follow one character in
// profile text: enough for any script, too few to draw a tower ("Zalgo")
// over the rows around it.
const MaxCombiningRun = 4
