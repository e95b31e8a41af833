package admin

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"time"

	"wxlogin/auth"
	"wxlogin/models"
	"wxlogin/store"
	"wxlogin/wechat"
)

// DefaultExportMaxRows is ExportUsers' row limit when Config.ExportMaxRows is zero.
const DefaultExportMaxRows = 1_000_000

// exportBatch is how many users one page of an export reads: large enough
// that 1M users are 1,000 statements, small enough that a page is ~1 MiB.
const exportBatch = 1000

// exportRetryAfter is what a refused export is told to wait, in seconds:
// about what exporting a few hundred thousand users takes.
const exportRetryAfter = 30

// ErrExportRunning refuses an export while another runs on this instance.
var ErrExportRunning = &models.Error{Code: models.CodeRateLimited,
	Message:    "another users export is running on this server; try again when it has finished",
	Extensions: map[string]any{"retryAfter": exportRetryAfter}}

// ExportInput is a users export as the HTTP handler parsed it: the users
// page's filter and order, and how to write the file.
type ExportInput struct {
	Search                      string
	CreatedAfter, CreatedBefore *time.Time
	Disabled                    *bool
	// Deletion and NeedsReview are UsersInput's.
	Deletion    string
	NeedsReview *bool
	// Order is "CREATED_AT", "LAST_LOGIN_AT" or (disabled users only)
	// "DISABLED_AT"; Desc as on the page.
	Order string
	Desc  bool
	// FullPhones writes phone numbers whole instead of masked; the audit
	// entry says so.
	FullPhones bool
	// Zone is what times are written in; UTC when nil.
	Zone *time.Location
	// Chinese writes the header row and genders in Chinese.
	Chinese bool
	IP      string
}

// ExportResult is what an export wrote.
type ExportResult struct {
	Rows int
	// Truncated is set when more users matched than the row limit.
	Truncated bool
}

// ExportUsers writes the users in's filter matches to w as CSV, in the
// page's order: UTF-8 with a byte order mark (Excel reads a CSV without
// one in the system's code page, and Chinese comes out garbled), a header
// row, then one row per user, at most the row limit (Config.ExportMaxRows).
// It calls flush after each page of users, so that the file streams while
// the server holds one page.
//
// Only an ADMIN may export (the caller's role is checked here too): a
// VIEWER reads users one page at a time. One export runs at a time per
// instance, each page a short statement on the admin pool: a second is
// RATE_LIMITED rather than queued, so exports never take the whole pool.
//
// The export is audited as admin.export_users when it starts (the filter,
// whether phones are whole) and the entry completed when it ends (rows,
// truncated, finished or the error), so one cut off midway still shows.
// Errors before w is written to: FORBIDDEN, BAD_USER_INPUT,
// RATE_LIMITED, INTERNAL; after, the write's or the page's error.
func (s *Service) ExportUsers(ctx context.Context, c *Caller, in ExportInput, w io.Writer, flush func() error) (ExportResult, error) {
	var res ExportResult
	if !c.Admin.Role.AtLeast(models.RoleAdmin) {
		return res, models.Errorf(models.CodeForbidden, "this needs the %s role", models.RoleAdmin)
	}
	q := store.UserQuery{Search: strings.TrimSpace(in.Search), CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore,
		Disabled: in.Disabled, Deletion: in.Deletion, NeedsReview: in.NeedsReview, Order: store.UserOrder(in.Order), Desc: in.Desc}
	if q.Order == "" {
		q.Order = store.OrderCreatedAt
	}
	if q.Order != store.OrderCreatedAt && q.Order != store.OrderLastLoginAt && q.Order != store.OrderDisabledAt {
		return res, models.Errorf(models.CodeBadUserInput, "order must be CREATED_AT, LAST_LOGIN_AT or DISABLED_AT")
	}
	if err := checkOrder(q); err != nil {
		return res, err
	}
	if len(q.Search) > maxSearchLen {
		return res, models.Errorf(models.CodeBadUserInput, "search must be at most %d bytes", maxSearchLen)
	}
	zone := in.Zone
	if zone == nil {
		zone = time.UTC
	}
	select {
	case s.exportSlot <- struct{}{}:
		defer func() { <-s.exportSlot }()
	default:
		return res, ErrExportRunning
	}

	filter := map[string]any{"order": string(q.Order), "desc": q.Desc}
	if q.Search != "" {
		filter["search"] = q.Search
		// The audit log keeps phone numbers masked, searched ones too.
		if nums := store.PhoneNumbersIn(q.Search); len(nums) > 0 {
			cc := ""
			if strings.HasPrefix(nums[0], "+86") {
				cc = "86"
			}
			filter["search"] = maskPhone(nums[0], cc)
		}
	}
	if q.CreatedAfter != nil {
		filter["createdAfter"] = q.CreatedAfter.UTC().Format(time.RFC3339Nano)
	}
	if q.CreatedBefore != nil {
		filter["createdBefore"] = q.CreatedBefore.UTC().Format(time.RFC3339Nano)
	}
	if q.Disabled != nil {
		filter["disabled"] = *q.Disabled
	}
	if q.Deletion != "" {
		filter["deletion"] = q.Deletion
	}
	if q.NeedsReview != nil {
		filter["needsReview"] = *q.NeedsReview
	}
	audit := &models.AuditEntry{ActorKind: "admin", ActorID: &c.Admin.ID, ActorName: &c.Admin.Username,
		Action: "admin.export_users", IP: nonEmpty(in.IP),
		Detail: map[string]any{"filter": filter, "fullPhones": in.FullPhones, "maxRows": s.exportMax, "finished": false, "rows": 0}}
	if err := s.store.WriteAudit(ctx, s.store.DB(), audit); err != nil {
		return res, internal(err)
	}

	err := s.writeUsersCSV(ctx, q, in, zone, w, flush, &res)
	done := map[string]any{"rows": res.Rows, "truncated": res.Truncated, "finished": err == nil}
	if err != nil {
		done["error"] = exportFailure(ctx, err)
	}
	// The client may have gone (ctx cancelled): the entry is completed all the same.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if aerr := s.store.SetAuditDetail(actx, audit.ID, done); aerr != nil {
		s.log.WarnContext(ctx, "completing the audit entry of a users export", "err", aerr, "audit", audit.ID)
	}
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "users export cut off", "err", err, "rows", res.Rows)
	}
	return res, err
}

// exportFailure says in the audit entry why an export did not finish,
// without the error's text (which may hold SQL).
func exportFailure(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return "the client went away"
	case store.IsStatementTimeout(err):
		return "a page of users took longer than the statement timeout"
	case errors.Is(err, errExportWrite):
		return "writing to the client failed"
	}
	return "internal error"
}

// errExportWrite marks a failed write to the client.
var errExportWrite = errors.New("admin: writing the export")

// writeUsersCSV is ExportUsers' file.
func (s *Service) writeUsersCSV(ctx context.Context, q store.UserQuery, in ExportInput, zone *time.Location, w io.Writer, flush func() error, res *ExportResult) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true // RFC 4180, and what Excel writes
	if _, err := bw.WriteString("\uFEFF"); err != nil {
		return errors.Join(errExportWrite, err)
	}
	header := exportHeader(in.Chinese, zone)
	if err := cw.Write(header); err != nil {
		return errors.Join(errExportWrite, err)
	}
	row := make([]string, len(header))
	// One more than the limit tells whether the file was cut short.
	err := s.store.EachUserPage(ctx, q, s.exportMax+1, exportBatch, func(users []*models.User) error {
		// Who disabled the page's disabled users: one statement for the
		// page, none for a page without any (most).
		var disabled []string
		for _, u := range users {
			if u.DisabledAt != nil {
				disabled = append(disabled, u.ID)
			}
		}
		by, err := s.store.DisabledByOf(ctx, disabled)
		if err != nil {
			return err
		}
		for _, u := range users {
			if res.Rows == s.exportMax {
				res.Truncated = true
				return nil
			}
			exportRow(row, u, by[u.ID], in, zone)
			if err := cw.Write(row); err != nil {
				return errors.Join(errExportWrite, err)
			}
			res.Rows++
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return errors.Join(errExportWrite, err)
		}
		if err := flush(); err != nil {
			return errors.Join(errExportWrite, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return errors.Join(errExportWrite, err)
	}
	if err := flush(); err != nil {
		return errors.Join(errExportWrite, err)
	}
	return nil
}

// exportColumns are the file's columns, in English and Chinese; the ones
// marked time get the zone in their heading.
var exportColumns = []struct {
	en, zh string
	time   bool
}{
	{"id", "用户ID", false},
	{"nickname", "昵称", false},
	{"phone", "手机号", false},
	{"gender", "性别", false},
	{"country", "国家", false},
	{"province", "省份", false},
	{"city", "城市", false},
	{"language", "语言", false},
	{"created_at", "注册时间", true},
	{"last_login_at", "最后登录时间", true},
	{"disabled_at", "封禁时间", true},
	{"disabled_reason", "封禁原因", false},
	{"disabled_by", "封禁人", false},
}

// exportTimeLayout is a time as Excel and WPS read it into a date cell.
const exportTimeLayout = "2006-01-02 15:04:05"

func exportHeader(chinese bool, zone *time.Location) []string {
	h := make([]string, len(exportColumns))
	for i, c := range exportColumns {
		h[i] = c.en
		if chinese {
			h[i] = c.zh
		}
		if c.time {
			h[i] += " (" + zone.String() + ")"
		}
	}
	return h
}

var genderNames = map[bool]map[models.Gender]string{
	false: {models.GenderUnknown: "unknown", models.GenderMale: "male", models.GenderFemale: "female"},
	true:  {models.GenderUnknown: "未知", models.GenderMale: "男", models.GenderFemale: "女"},
}

// exportRow fills row with u's cells, in exportColumns' order; by is the
// admin who disabled u, nil for none.
func exportRow(row []string, u *models.User, by *models.Admin, in ExportInput, zone *time.Location) {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(zone).Format(exportTimeLayout)
	}
	gender := ""
	if u.Gender != nil {
		gender = genderNames[in.Chinese][*u.Gender]
	}
	phone := str(u.Phone)
	if phone != "" && !in.FullPhones {
		phone = maskPhone(phone, str(u.PhoneCountryCode))
	}
	row[0], row[1], row[2], row[3] = u.ID, str(u.Nickname), phone, gender
	row[4], row[5], row[6], row[7] = str(u.Country), str(u.Province), str(u.City), str(u.Language)
	row[8], row[9], row[10], row[11] = when(&u.CreatedAt), when(u.LastLoginAt), when(u.DisabledAt), str(u.DisabledReason)
	row[12] = ""
	if by != nil {
		row[12] = by.Username
	}
	for i, v := range row {
		row[i] = cellSafe(v)
	}
}

// maskPhone masks an E.164 number as auth.MaskPhone does (+86138****8000),
// taking the country code off when the number starts with it.
func maskPhone(e164, cc string) string {
	national := strings.TrimPrefix(e164, "+")
	if cc != "" && strings.HasPrefix(national, cc) {
		national = national[len(cc):]
	} else {
		cc = ""
	}
	return auth.MaskPhone(&wechat.Phone{E164: e164, CountryCode: cc, National: national})
}

// cellSafe keeps a spreadsheet from reading a cell as a formula (CSV
// injection: a nickname "=HYPERLINK(…)" would run in the operator's Excel):
// a cell starting with = + - @, a tab or a carriage return gets a leading
// apostrophe, which Excel and WPS show as text, as OWASP advises. Phone
// numbers start with + and so are written '+86138****8000.
func cellSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
