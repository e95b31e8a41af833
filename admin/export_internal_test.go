package admin

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"

	"wxlogin/models"
	"wxlogin/store/storetest"
)

func TestCellSafe(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+86138****8000": "'+86138****8000", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "\rx": "'\rx", "": "", "王小明": "王小明", "a=1": "a=1", "2026-12-07 00:00:00": "2026-12-07 00:00:00",
	} {
		if got := cellSafe(in); got != want {
			t.Errorf("cellSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskPhoneAsAuth(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ e164, cc, want string }{
		{"+8613800138000", "86", "+86138****8000"},
		{"+14155552671", "1", "+1******2671"},
		{"+85291234567", "", "+852****4567"}, // no country code: the whole number is national
	} {
		if got := maskPhone(c.e164, c.cc); got != c.want {
			t.Errorf("maskPhone(%s, %s) = %s, want %s", c.e164, c.cc, got, c.want)
		}
	}
}

// One export at a time: a second is refused at once, before anything is
// written or audited, and a VIEWER is refused whatever the slot.
func TestExportUsers_OneAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewService(storetest.Open(t), Config{})
	name := "export-slot-" + uuid.NewString()[:8]
	a, err := s.Create(ctx, name, "correct horse battery staple", models.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c := &Caller{Admin: a}
	in := ExportInput{Search: uuid.NewString()}
	var buf bytes.Buffer
	flush := func() error { return nil }

	s.exportSlot <- struct{}{}
	if _, err := s.ExportUsers(ctx, c, in, &buf, flush); models.ErrorCode(err) != models.CodeRateLimited || buf.Len() > 0 {
		t.Fatalf("second export: %v, %d bytes", err, buf.Len())
	}
	viewer := *a
	viewer.Role = models.RoleViewer
	if _, err := s.ExportUsers(ctx, &Caller{Admin: &viewer}, in, &buf, flush); models.ErrorCode(err) != models.CodeForbidden {
		t.Fatalf("viewer: %v", err)
	}
	<-s.exportSlot
	res, err := s.ExportUsers(ctx, c, in, &buf, flush)
	if err != nil || res.Rows != 0 || !bytes.HasPrefix(buf.Bytes(), []byte("\uFEFFid,nickname,")) {
		t.Fatalf("export: %+v, %v, %q", res, err, buf.String())
	}
	if len(s.exportSlot) != 0 {
		t.Fatal("the export did not give its slot back")
	}
}
