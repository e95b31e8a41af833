package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"wxlogin/edge"
	"wxlogin/models"
	"wxlogin/ratelimit"
	"wxlogin/store"
	"wxlogin/wechat"
)

// Path is where the endpoint is mounted; the appid follows.
const Path = "/wechat/push/"

// Handler serves GET (URL verification) and POST (messages) on
// Path+"{appid}". Every answer is short plain text, never the input
// (echostr aside, once its signature checks): "success" for a message
// handled now or before; 404 for an app without a push Token; 400, 403 or
// 413 for a refusal, which changes nothing; 429 when the client network
// has been refused too often; 500 when the database failed (WeChat retries).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path+"{appid}", s.verify)
	mux.HandleFunc("POST "+Path+"{appid}", s.receive)
	return mux
}

// refusal is why a push is refused: the status and the reason logged.
type refusal struct {
	status int
	reason string
}

// refusalOf maps the wechat package's push errors to an answer.
func refusalOf(err error) refusal {
	switch {
	case errors.Is(err, wechat.ErrPushSignature):
		return refusal{http.StatusForbidden, "signature"}
	case errors.Is(err, wechat.ErrPushAppID):
		return refusal{http.StatusForbidden, "appid"}
	case errors.Is(err, wechat.ErrPushTimestamp):
		return refusal{http.StatusForbidden, "timestamp"}
	case errors.Is(err, wechat.ErrPushCipher):
		return refusal{http.StatusBadRequest, "ciphertext"}
	case errors.Is(err, wechat.ErrPushNoKey):
		return refusal{http.StatusBadRequest, "mode"}
	case errors.Is(err, store.ErrPushReplay):
		return refusal{http.StatusForbidden, "replay"}
	}
	return refusal{http.StatusBadRequest, "body"}
}

// app finds the path's app, answering 404 when it takes no pushes.
func (s *Service) app(w http.ResponseWriter, r *http.Request) *wechat.Pusher {
	p := s.apps[r.PathValue("appid")]
	if p == nil {
		s.observe("other", "not_found")
		http.Error(w, "not found", http.StatusNotFound)
	}
	return p
}

// verify answers WeChat's URL verification: echostr, when the signature
// over the Token, timestamp and nonce checks.
func (s *Service) verify(w http.ResponseWriter, r *http.Request) {
	p := s.app(w, r)
	if p == nil {
		return
	}
	q := r.URL.Query()
	ts, nonce, echo := q.Get("timestamp"), q.Get("nonce"), q.Get("echostr")
	err := wechat.CheckPushTimestamp(ts, s.cfg.Now(), MaxSkew)
	if err == nil {
		err = p.Verify(q.Get("signature"), ts, nonce)
	}
	if err == nil && (echo == "" || len(echo) > 128) {
		err = wechat.ErrPushBody
	}
	if err != nil {
		s.refuse(w, r, p.AppID(), "verify", refusalOf(err))
		return
	}
	s.observe("verify", "ok")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, echo)
}

// receive checks, records and handles one pushed message.
func (s *Service) receive(w http.ResponseWriter, r *http.Request) {
	p := s.app(w, r)
	if p == nil {
		return
	}
	appID := p.AppID()
	q := r.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if err := wechat.CheckPushTimestamp(ts, s.cfg.Now(), MaxSkew); err != nil {
		s.refuse(w, r, appID, "other", refusalOf(err))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.refuse(w, r, appID, "other", refusal{http.StatusRequestEntityTooLarge, "size"})
		return
	} else if err != nil {
		s.refuse(w, r, appID, "other", refusal{http.StatusBadRequest, "body"})
		return
	}
	msg, err := s.open(p, q.Get("encrypt_type"), q.Get("signature"), q.Get("msg_signature"), ts, nonce, body)
	if err != nil {
		s.refuse(w, r, appID, "other", refusalOf(err))
		return
	}
	event := eventLabel(msg)
	// In plaintext mode this is the only appid check; in safe mode the
	// ciphertext's own has passed, and the message must agree with it.
	if msg.AppID != "" && msg.AppID != appID {
		s.refuse(w, r, appID, event, refusalOf(wechat.ErrPushAppID))
		return
	}
	stamp, _ := strconv.ParseInt(ts, 10, 64)
	if !s.acquire(r.Context()) {
		s.observe(event, "busy")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	outcome, err := s.handle(r.Context(), appID, stamp, nonce, msg)
	<-s.slots
	if errors.Is(err, store.ErrPushReplay) {
		s.refuse(w, r, appID, event, refusalOf(err))
		return
	} else if err != nil {
		s.observe(event, "error")
		if r.Context().Err() == nil {
			s.cfg.Log.Error("handling a push", "appid", appID, "event", event, "err", err, "request_id", edge.RequestID(r.Context()))
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.observe(event, outcome)
	edge.SetLogDetail(r.Context(), logDetail{event: event, outcome: outcome})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "success")
}

// acquire waits up to SlotWait for a turn to handle a push.
func (s *Service) acquire(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(SlotWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// open checks the signature and returns the message. An app with an
// EncodingAESKey takes safe mode only (encrypt_type=aes, the body's
// Encrypt signed by msg_signature); one without, plaintext only (the
// query signed by signature). Plaintext mode's signature does not cover
// the body, so an app that can do better is not let down to it.
func (s *Service) open(p *wechat.Pusher, encryptType, signature, msgSignature, ts, nonce string, body []byte) (*wechat.PushMessage, error) {
	if !p.Encrypts() {
		if encryptType != "" && encryptType != "raw" {
			return nil, wechat.ErrPushNoKey
		}
		if err := p.Verify(signature, ts, nonce); err != nil {
			return nil, err
		}
		m, _, err := wechat.ParsePushMessage(body)
		return m, err
	}
	if encryptType != "aes" {
		return nil, wechat.ErrPushSignature
	}
	_, enc, err := wechat.PushEnvelope(body)
	if err != nil {
		return nil, err
	}
	if err := p.VerifyMessage(msgSignature, ts, nonce, enc); err != nil {
		return nil, err
	}
	plain, err := p.Decrypt(enc)
	if err != nil {
		return nil, err
	}
	m, _, err := wechat.ParsePushMessage(plain)
	return m, err
}

// refuse answers a refused push, counted against the client network's
// RefusalsPerIP. Only refusals count: a push that verifies is never
// limited, so no one can lock WeChat's own traffic out, whatever they send
// from wherever (even sharing an address with WeChat's servers, or all
// arriving from one proxy); a network over its limit gets 429 and no log
// line per request.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, appID, event string, why refusal) {
	s.observe(event, "refused_"+why.reason)
	edge.SetLogDetail(r.Context(), logDetail{event: event, outcome: "refused_" + why.reason})
	if err := s.cfg.Limits.Check(r.Context(), "wechat_push:ip", ratelimit.ClientNet(edge.ClientIP(r)), s.cfg.RefusalsPerIP, "too many refused pushes; try again in %d seconds"); err != nil {
		var limited *models.Error
		if errors.As(err, &limited) {
			w.Header().Set("Retry-After", fmt.Sprint(limited.Extensions["retryAfter"]))
		}
		http.Error(w, "too many refused pushes", http.StatusTooManyRequests)
		return
	}
	s.cfg.Log.Warn("refused a push", "appid", appID, "reason", why.reason, "client_ip", edge.ClientIP(r))
	http.Error(w, "refused", why.status)
}

func (s *Service) observe(event, outcome string) {
	if s.cfg.Observe != nil {
		s.cfg.Observe(event, outcome)
	}
}

// eventLabel is m's event for metrics and logs: one of Events, or "other".
func eventLabel(m *wechat.PushMessage) string {
	for _, e := range Events[:4] {
		if m.MsgType == "event" && m.Event == e {
			return e
		}
	}
	return "other"
}

// logDetail adds a push's event and outcome to its request's log line.
type logDetail struct{ event, outcome string }

func (d logDetail) LogDetail() (attrs [edge.MaxLogDetail]slog.Attr, n int) {
	attrs[0], attrs[1] = slog.String("push_event", d.event), slog.String("push_outcome", d.outcome)
	return attrs, 2
}
