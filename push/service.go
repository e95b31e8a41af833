// Package push is WeChat's message push (消息推送) endpoint,
// GET and POST /wechat/push/{appid}: URL verification, and the events that
// ask a developer to delete or change a user's data (authorization
// revoked, WeChat account cancelled, profile cleaned by the platform) or
// bring a content check's verdict. Each message is checked (signature,
// timestamp, appid, size, form), recorded once by its identity and handled
// in the transaction of its record, so that WeChat's retries are answered
// "success" without doing the work twice. docs/api.md, "WeChat message
// push", is the reference.
package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"wxlogin/models"
	"wxlogin/ratelimit"
	"wxlogin/store"
	"wxlogin/wechat"
)

// MaxBody bounds a push's body. WeChat's events are well under 2 KiB; a
// text message is at most 2,048 characters (some 6 KiB, a third more
// base64-encoded in safe mode).
const MaxBody = 64 << 10

// MaxSkew is how far a push's timestamp may be from now: older ones are
// replays. WeChat's retries (within 15 s) keep the first timestamp.
const MaxSkew = 5 * time.Minute

// Retention is how long a message's record is kept: far longer than
// WeChat's retries, short enough that the table stays small.
const Retention = 30 * 24 * time.Hour

// ActorKind is the audit actor kind of every change a push makes.
const ActorKind = "wechat"

// Eraser erases a user at once, as the account deletion does, writing
// audit in its transaction (store.EraseUser). It runs in a transaction of
// its own.
type Eraser func(ctx context.Context, userID string, audit *models.AuditEntry) error

// MediaVerdict is a wxa_media_check event: WeChat's asynchronous verdict on
// an image sent to mediaCheckAsync, which TraceID names.
type MediaVerdict struct {
	AppID   string
	TraceID string
	// Suggest is pass, review or risky; Label is WeChat's category (100 normal).
	Suggest string
	Label   string
	// Errcode is WeChat's; non-zero when it could not check the image.
	Errcode string
}

// MediaHook acts on a verdict, through tx, the transaction that records
// the event: an error rolls both back, and WeChat delivers it again. It
// returns the user it changed ("" for none), recorded with the push and
// dropped from the session cache once tx commits.
type MediaHook func(ctx context.Context, tx bun.IDB, v MediaVerdict) (userID string, err error)

// Config is what a Service needs beyond the store.
type Config struct {
	// Apps are the mini programs whose pushes are taken, each with its
	// Token (and EncodingAESKey for safe mode). An app not here is 404.
	Apps []*wechat.Pusher
	Log  *slog.Logger
	// Now is the clock timestamps are checked against; time.Now when nil.
	Now func() time.Time
	// Limits and RefusalsPerIP bound the refused pushes from one client
	// network (see Service.refuse); a nil Guard or an off limit, none.
	Limits        *ratelimit.Guard
	RefusalsPerIP ratelimit.Limit
	// Forget drops a user from this instance's session cache after a
	// change committed (auth.Service.ForgetUser); the other instances hear
	// of it by the users table's NOTIFY.
	Forget func(userID string)
	// Erase erases the account of a user_authorization_cancellation. Nil:
	// the user's sessions are revoked and the profile and phone cleared.
	Erase Eraser
	// DeleteFile deletes a cleared avatar's file once no user has it
	// (profile.Service.DeleteFile, as for a risky verdict); nil keeps it.
	DeleteFile store.DeleteFile
	// Media acts on wxa_media_check verdicts; nil only records them.
	Media MediaHook
	// Observe, when set, is told each push's event (one of Events, or
	// "other") and outcome, for metrics.
	Observe func(event, outcome string)
	// Concurrency is how many pushes are handled at once by this instance
	// (DefaultConcurrency when 0); the others wait up to SlotWait, then
	// are answered 503 and retried by WeChat. It keeps a burst of pushes
	// from taking the database connections logins need.
	Concurrency int
}

// DefaultConcurrency of pushes handled at once: a fifth of the default
// DB_MAX_CONNS. One push is one short transaction (about 10 ms).
const DefaultConcurrency = 4

// SlotWait is the longest a push waits for a turn: under WeChat's 5 s, so
// that it gets an answer (503, and it retries) rather than a timeout.
const SlotWait = 4 * time.Second

// Events are the event label values Observe gets; any other is "other".
var Events = []string{wechat.EventAuthorizationRevoke, wechat.EventAuthorizationCancellation, wechat.EventUserInfoModified, wechat.EventMediaCheck, "verify"}

// Service handles the pushes of every configured app.
type Service struct {
	st    *store.Store
	cfg   Config
	apps  map[string]*wechat.Pusher
	slots chan struct{}
}

// NewService returns the Service of cfg.Apps over st.
func NewService(st *store.Store, cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	apps := map[string]*wechat.Pusher{}
	for _, p := range cfg.Apps {
		apps[p.AppID()] = p
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	return &Service{st: st, cfg: cfg, apps: apps, slots: make(chan struct{}, cfg.Concurrency)}
}

// Outcomes of a handled message, recorded and audited.
const (
	OutcomeErased    = "erased"
	OutcomeCleared   = "cleared"
	OutcomeUnchanged = "unchanged"
	OutcomeUnknown   = "unknown_openid"
	OutcomeRecorded  = "recorded"
	OutcomeReceived  = "received"
	OutcomeDuplicate = "duplicate"
)

// MessageKey is a message's identity, which a retry shares: "msg:" and
// WeChat's MsgId when it has one (ordinary messages), else "sha256:" and
// the hash of every field that makes an event what it is. Events carry no
// id, and FromUserName is the same platform account for all of them, so
// the openid, the time WeChat made the event and its particulars (revoked
// scope, trace id, verdict) are in the hash.
func MessageKey(m *wechat.PushMessage) string {
	if m.MsgID != "" {
		return "msg:" + m.MsgID
	}
	h := sha256.New()
	for _, f := range []string{m.MsgType, m.Event, m.ToUserName, m.FromUserName, strconv.FormatInt(m.CreateTime, 10), m.OpenID, m.AppID,
		m.RevokeInfo, m.PluginID, m.OpenPID, m.TraceID, m.Result.Suggest, m.Result.Label, m.Errcode} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// RevokeFields maps a RevokeInfo to the users columns it names. WeChat
// documents (授权用户信息变更, mini programs): 6 nickname and avatar (the
// wx.getUserInfo profile: gender, language and region come with them),
// 8 phone number, 19 the nickname chosen in the nickname keyboard, 20 the
// avatar chosen in the avatar component; 1 licence plate, 2 address,
// 3 invoice, 4 Bluetooth, 5 microphone, 7 camera, 12 WeRun steps,
// 13 and 18 location, 14 chosen images or videos, 15 chosen files and
// 16 e-mail are data wxlogin never stores, so nothing is removed. Several
// values may come comma-separated. An empty or unknown value removes the
// profile and the phone: when in doubt, delete. known is false then.
func RevokeFields(info string) (fields []string, known bool) {
	set := map[string]bool{}
	known = true
	profile := []string{"nickname", "avatar_url", "gender", "language", "city", "province", "country"}
	phone := []string{"phone", "phone_country_code"}
	parts := strings.Split(info, ",")
	for _, v := range parts {
		switch strings.TrimSpace(v) {
		case "6":
			for _, f := range profile {
				set[f] = true
			}
		case "8":
			for _, f := range phone {
				set[f] = true
			}
		case "19":
			set["nickname"] = true
		case "20":
			set["avatar_url"] = true
		case "1", "2", "3", "4", "5", "7", "12", "13", "14", "15", "16", "18":
		default:
			known = false
		}
	}
	if !known {
		for _, f := range append(profile, phone...) {
			set[f] = true
		}
	}
	for _, f := range store.ClearableFields {
		if set[f] {
			fields = append(fields, f)
		}
	}
	return fields, known
}

// handle does what m asks, recorded under its identity, and returns the
// outcome (OutcomeDuplicate for a message handled before).
func (s *Service) handle(ctx context.Context, appID string, ts int64, nonce string, m *wechat.PushMessage) (string, error) {
	rec := &store.PushRecord{AppID: appID, MessageKey: MessageKey(m), MsgType: m.MsgType, Event: m.Event,
		PushTS: ts, Nonce: nonce, Detail: map[string]any{}}
	if m.OpenID != "" {
		rec.OpenID = &m.OpenID
	}
	audit := &models.AuditEntry{ActorKind: ActorKind, ActorName: &appID, Action: "wechat.received",
		Detail: map[string]any{"appid": appID, "msgType": m.MsgType}}
	if m.Event != "" {
		audit.Detail["event"] = m.Event
	}
	if m.OpenID != "" {
		audit.Detail["openid"] = m.OpenID
	}
	if m.MsgType == "event" && m.Event == wechat.EventAuthorizationCancellation && m.OpenID != "" && s.cfg.Erase != nil {
		return s.cancel(ctx, rec, audit)
	}
	var userID string
	done, err := s.st.RecordPush(ctx, rec, func(ctx context.Context, tx bun.Tx) error {
		outcome, err := s.work(ctx, tx, appID, m, rec, audit)
		if err != nil {
			return err
		}
		rec.Outcome = outcome
		audit.Detail["outcome"] = outcome
		if rec.UserID != nil {
			userID, audit.Target = *rec.UserID, rec.UserID
		}
		return s.st.WriteAudit(ctx, tx, audit)
	})
	if err != nil {
		return "", err
	}
	if done {
		return OutcomeDuplicate, nil
	}
	if userID != "" && s.cfg.Forget != nil {
		s.cfg.Forget(userID)
	}
	return rec.Outcome, nil
}

// work is the part of a message's handling that runs in its record's
// transaction; it fills in rec and audit and returns the outcome.
func (s *Service) work(ctx context.Context, tx bun.Tx, appID string, m *wechat.PushMessage, rec *store.PushRecord, audit *models.AuditEntry) (string, error) {
	if m.MsgType != "event" {
		return OutcomeReceived, nil
	}
	var fields []string
	switch m.Event {
	case wechat.EventAuthorizationRevoke:
		audit.Action = "wechat.authorization_revoke"
		var known bool
		fields, known = RevokeFields(m.RevokeInfo)
		audit.Detail["revokeInfo"] = m.RevokeInfo
		rec.Detail["revokeInfo"] = m.RevokeInfo
		if !known {
			audit.Detail["revokeInfoUnknown"] = true
		}
	case wechat.EventUserInfoModified:
		audit.Action = "wechat.user_info_modified"
		fields = []string{"nickname", "avatar_url"}
	case wechat.EventAuthorizationCancellation:
		// Without an Eraser (see cancel): end every session and clear
		// every personal field, so that nothing of the person is served.
		audit.Action = "wechat.authorization_cancellation"
		fields = store.ClearableFields
	case wechat.EventMediaCheck:
		audit.Action = "wechat.media_check"
		v := MediaVerdict{AppID: appID, TraceID: m.TraceID, Suggest: m.Result.Suggest, Label: m.Result.Label, Errcode: m.Errcode}
		for k, val := range map[string]string{"traceId": v.TraceID, "suggest": v.Suggest, "label": v.Label, "errcode": v.Errcode} {
			if val != "" {
				rec.Detail[k], audit.Detail[k] = val, val
			}
		}
		if s.cfg.Media != nil {
			userID, err := s.cfg.Media(ctx, tx, v)
			if err != nil {
				return "", err
			}
			if userID != "" {
				rec.UserID = &userID
			}
		}
		return OutcomeRecorded, nil
	default:
		return OutcomeReceived, nil
	}
	if m.OpenID == "" {
		return OutcomeUnknown, nil
	}
	userID, err := s.st.UserIDByOpenID(ctx, tx, appID, m.OpenID)
	if errors.Is(err, store.ErrNotFound) {
		s.cfg.Log.Info("a push names an openid with no user", "appid", appID, "event", m.Event)
		return OutcomeUnknown, nil
	} else if err != nil {
		return "", err
	}
	rec.UserID = &userID
	cleared, err := s.st.ClearUserFields(ctx, tx, userID, fields, s.cfg.DeleteFile)
	if errors.Is(err, store.ErrNotFound) {
		return OutcomeUnknown, nil
	} else if err != nil {
		return "", err
	}
	if m.Event == wechat.EventAuthorizationCancellation {
		n, err := tx.NewUpdate().Model((*models.Session)(nil)).Set("revoked_at = now()").
			Where("user_id = ? AND revoked_at IS NULL", userID).Exec(ctx)
		if err != nil {
			return "", err
		}
		revoked, _ := n.RowsAffected()
		audit.Detail["sessionsRevoked"] = revoked
		audit.Detail["erased"] = false
	}
	audit.Detail["removed"] = nonNil(cleared)
	rec.Detail["removed"] = nonNil(cleared)
	if len(cleared) == 0 {
		return OutcomeUnchanged, nil
	}
	return OutcomeCleared, nil
}

// cancel handles a user_authorization_cancellation with the Eraser, which
// runs its own transaction: the erasure first, then the record. A retry
// that comes between the two finds no user any more (erasure deletes the
// identities) and is recorded as for an unknown openid; an erasure that
// fails leaves no record, so WeChat's retry erases again.
func (s *Service) cancel(ctx context.Context, rec *store.PushRecord, audit *models.AuditEntry) (string, error) {
	audit.Action = "wechat.authorization_cancellation"
	if seen, err := s.st.PushRecorded(ctx, rec.AppID, rec.MessageKey); err != nil {
		return "", err
	} else if seen {
		return OutcomeDuplicate, nil
	}
	outcome := OutcomeUnknown
	userID, err := s.st.UserIDByOpenID(ctx, s.st.DB(), rec.AppID, *rec.OpenID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.cfg.Log.Info("a push names an openid with no user", "appid", rec.AppID, "event", rec.Event)
	case err != nil:
		return "", err
	default:
		name := rec.AppID
		erasure := &models.AuditEntry{ActorKind: ActorKind, ActorName: &name, Action: "user.erase", Target: &userID,
			Detail: map[string]any{"appid": rec.AppID, "event": rec.Event}}
		if err := s.cfg.Erase(ctx, userID, erasure); err != nil {
			return "", err
		}
		outcome, rec.UserID, audit.Target = OutcomeErased, &userID, &userID
		if s.cfg.Forget != nil {
			s.cfg.Forget(userID)
		}
	}
	rec.Outcome = outcome
	audit.Detail["outcome"] = outcome
	done, err := s.st.RecordPush(ctx, rec, func(ctx context.Context, tx bun.Tx) error {
		return s.st.WriteAudit(ctx, tx, audit)
	})
	if err != nil {
		return "", err
	}
	if done && outcome != OutcomeErased {
		return OutcomeDuplicate, nil
	}
	return outcome, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
