package wechattest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"wxlogin/wechat"
)

// PathPush is the mini-program side's push trigger (dev mode): POST
// {"user":"alice","event":"user_authorization_revoke","revokeInfo":"8"}
// and the simulator sends that event to the server, as WeChat would.
const PathPush = "/dev/wechat/push"

// PlatformUserName is the FromUserName of the platform's events, as
// WeChat's push service names itself; ToUserName is the app's.
const (
	PlatformUserName = "o_wxlogin_push_platform"
	AppUserName      = "gh_wxlogin_sim"
)

// PushOptions say how a push is made.
type PushOptions struct {
	// Format is JSON (the default) or XML.
	Format wechat.PushFormat
	// Plain sends in plaintext mode even when the app has an
	// EncodingAESKey; without one, plaintext is the only mode.
	Plain bool
	// Time is the query's timestamp; now when zero.
	Time time.Time
	// Nonce is the query's nonce; random when empty.
	Nonce string
	// App is the app whose Token and key sign (and encrypt) the push, and
	// whose endpoint it goes to; m.AppID when empty (a test sets it to
	// send a message naming another app).
	App string
}

// Push is one push as WeChat sends it to POST {target}/wechat/push/{appid}:
// tests change its parts to make every malformed shape.
type Push struct {
	AppID string
	Query url.Values
	Body  []byte
}

// SetPushTarget sets the server's base URL pushes are sent to.
func (s *Simulator) SetPushTarget(baseURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushTarget = baseURL
}

// Event returns the event WeChat would push about user of appID (whose
// openid the simulator derives as for logins), created now.
func (s *Simulator) Event(appID, user, event string) *wechat.PushMessage {
	if appID == "" {
		appID = s.defaultApp()
	}
	m := &wechat.PushMessage{ToUserName: AppUserName, FromUserName: PlatformUserName, CreateTime: s.now().Unix(),
		MsgType: "event", Event: event, AppID: appID}
	if user != "" {
		m.OpenID = s.OpenID(appID, user)
	}
	return m
}

func (s *Simulator) defaultApp() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstApp
}

// ErrNoPushToken means the app has no push Token in the simulator.
var ErrNoPushToken = errors.New("wechattest: the app has no push Token")

// MakePush signs (and, in safe mode, encrypts) m for its app (m.AppID) as
// WeChat does.
func (s *Simulator) MakePush(m *wechat.PushMessage, opt PushOptions) (*Push, error) {
	appID := opt.App
	if appID == "" {
		appID = m.AppID
	}
	s.mu.Lock()
	a, ok := s.apps[appID]
	s.mu.Unlock()
	if !ok || a.PushToken == "" {
		return nil, ErrNoPushToken
	}
	p, err := wechat.NewPusher(a.AppID, a.PushToken, a.PushAESKey)
	if err != nil {
		return nil, err
	}
	if opt.Format == "" {
		opt.Format = wechat.PushJSON
	}
	at := opt.Time
	if at.IsZero() {
		at = s.now()
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	nonce := opt.Nonce
	if nonce == "" {
		b := randomBytes(4)
		nonce = strconv.FormatUint(uint64(b[0])<<24|uint64(b[1])<<16|uint64(b[2])<<8|uint64(b[3]), 10)
	}
	plain := wechat.EncodePushMessage(m, opt.Format)
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {p.Sign(ts, nonce)}}
	if opt.Plain || !p.Encrypts() {
		return &Push{AppID: a.AppID, Query: q, Body: plain}, nil
	}
	enc, err := p.Encrypt(plain)
	if err != nil {
		return nil, err
	}
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", p.SignMessage(ts, nonce, enc))
	return &Push{AppID: a.AppID, Query: q, Body: wechat.EncodePushEnvelope(AppUserName, enc, opt.Format)}, nil
}

// URL is where p goes on the server at base.
func (p *Push) URL(base string) string {
	return base + "/wechat/push/" + url.PathEscape(p.AppID) + "?" + p.Query.Encode()
}

// PushAnswer is the server's answer to a push.
type PushAnswer struct {
	Status int    `json:"status"`
	Body   string `json:"answer"`
}

// Send posts p to the push target, as WeChat does, and returns the answer
// (its first 1 KiB).
func (s *Simulator) Send(ctx context.Context, p *Push) (PushAnswer, error) {
	s.mu.Lock()
	target := s.pushTarget
	s.mu.Unlock()
	if target == "" {
		return PushAnswer{}, errors.New("wechattest: no push target (SetPushTarget)")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // WeChat's own wait
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL(target), bytes.NewReader(p.Body))
	if err != nil {
		return PushAnswer{}, err
	}
	ct := "application/json"
	if f, _ := wechat.DetectPushFormat(p.Body); f == wechat.PushXML {
		ct = "text/xml"
	}
	req.Header.Set("Content-Type", ct)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return PushAnswer{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	return PushAnswer{Status: res.StatusCode, Body: string(b)}, nil
}

// pushRequest is what POST /dev/wechat/push takes.
type pushRequest struct {
	User       string `json:"user"`
	AppID      string `json:"appid"`
	Event      string `json:"event"`
	RevokeInfo string `json:"revokeInfo"`
	TraceID    string `json:"traceId"`
	Suggest    string `json:"suggest"`
	Label      string `json:"label"`
	Format     string `json:"format"`
	Mode       string `json:"mode"`
	// Times sends the same message that many times (1 to 4: WeChat's
	// first try and its three retries), to watch it handled once.
	Times int `json:"times"`
}

// triggerPush serves PathPush: it makes the event the body describes and
// sends it to the server, answering {"answers":[{"status","answer"}…]}.
func (s *Simulator) triggerPush(w http.ResponseWriter, r *http.Request) {
	s.takeFault(PathPush)
	var in pushRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": "want a JSON body like {\"user\":\"alice\",\"event\":\"user_authorization_revoke\",\"revokeInfo\":\"8\"}"})
		return
	}
	if in.Event == "" || len(in.Event) > 64 || len(in.User) > MaxUserLen {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": "event is required (at most 64 characters), user at most 128"})
		return
	}
	opt := PushOptions{Format: wechat.PushJSON, Plain: in.Mode == "plain"}
	switch in.Format {
	case "", "json":
	case "xml":
		opt.Format = wechat.PushXML
	default:
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": "format is json or xml"})
		return
	}
	if in.Mode != "" && in.Mode != "plain" && in.Mode != "safe" {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": "mode is plain or safe"})
		return
	}
	if in.Times < 1 || in.Times > 4 {
		in.Times = 1
	}
	m := s.Event(in.AppID, in.User, in.Event)
	if in.Event == wechat.EventMediaCheck {
		m.TraceID, m.Version, m.Errcode = in.TraceID, "2", "0"
		m.Result = wechat.MediaCheckResult{Suggest: in.Suggest, Label: in.Label}
		if m.Result.Suggest == "" {
			m.Result.Suggest = "pass"
		}
		if m.Result.Label == "" {
			m.Result.Label = "100"
		}
	} else {
		m.RevokeInfo = in.RevokeInfo
	}
	for _, f := range []string{in.TraceID, in.Suggest, in.Label, in.RevokeInfo} {
		if len(f) > 128 {
			writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": "traceId, suggest, label and revokeInfo are at most 128 characters"})
			return
		}
	}
	p, err := s.MakePush(m, opt)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", map[string]string{"error": "the app is unknown to the simulator or has no push Token"})
		return
	}
	var answers []PushAnswer
	for range in.Times {
		a, err := s.Send(r.Context(), p)
		if err != nil {
			writeJSON(w, http.StatusBadGateway, "application/json", map[string]string{"error": "the server did not answer the push"})
			return
		}
		answers = append(answers, a)
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"openid": m.OpenID, "answers": answers})
}

// PushMediaCheck delivers mc's verdict as WeChat does: its
// wxa_media_check event (mc.Event), signed with the app's push Token and,
// when the app has an EncodingAESKey, encrypted (safe mode), POSTed to
// the push target. The same mc pushed twice is the same message, as
// WeChat's retries are.
func (s *Simulator) PushMediaCheck(ctx context.Context, mc MediaCheck) (PushAnswer, error) {
	if mc.Event == nil {
		mc.Event = mediaCheckEvent(mc) // a verdict a test made up
	}
	m, _, err := wechat.ParsePushMessage(mc.Event)
	if err != nil {
		return PushAnswer{}, err
	}
	p, err := s.MakePush(m, PushOptions{})
	if err != nil {
		return PushAnswer{}, err
	}
	return s.Send(ctx, p)
}

// DeliverMediaChecksByPush makes each finished media check a push to the
// server (PushMediaCheck), delay after its mediaCheckAsync call, as WeChat
// delivers verdicts. done, when set, is told each delivery's answer once
// the server has given it (tests wait on it).
func (s *Simulator) DeliverMediaChecksByPush(delay time.Duration, done func(MediaCheck, PushAnswer, error)) {
	s.SetMediaCheckDelivery(delay, func(mc MediaCheck) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, err := s.PushMediaCheck(ctx, mc)
		if done != nil {
			done(mc, a, err)
		}
	})
}
