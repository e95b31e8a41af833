package wechattest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // the avatars the server stores
	_ "image/png"
	"io"
	"net/http"
	"strings"
	"time"

	"wxlogin/wechat"
)

// The content security paths.
const (
	PathMsgSecCheck = "/wxa/msg_sec_check"     // msgSecCheck v2: text, answered at once
	PathMediaCheck  = "/wxa/media_check_async" // mediaCheckAsync v2: an image URL, the verdict delivered later
)

// The scripted verdicts (docs/development.md, "Content security in the
// simulator", lists them). Text: risky when it holds one of RiskyWords,
// else review when it holds one of ReviewWords, else pass; case is
// ignored. Images: the simulator fetches media_url, as WeChat does, and
// judges the average colour of its pixels: mostly red is risky, mostly
// yellow is review, anything else passes.
var (
	RiskyWords  = []string{"risky", "违规"}
	ReviewWords = []string{"review", "待审"}
)

// The labels the scripted verdicts carry.
const (
	LabelRisky  = 20001 // WeChat's "politics"
	LabelReview = 21000 // WeChat's "other"
)

// TextVerdict is the scripted verdict on text: a suggestion and a label.
func TextVerdict(content string) (suggest string, label int) {
	lc := strings.ToLower(content)
	for _, w := range RiskyWords {
		if strings.Contains(lc, w) {
			return wechat.SuggestRisky, LabelRisky
		}
	}
	for _, w := range ReviewWords {
		if strings.Contains(lc, w) {
			return wechat.SuggestReview, LabelReview
		}
	}
	return wechat.SuggestPass, wechat.LabelNormal
}

// ImageVerdict is the scripted verdict on an image: mostly red (average
// red above 180, green and blue under 90) is risky, mostly yellow (red and
// green above 180, blue under 90) is review, anything else passes. The
// thresholds leave room for JPEG re-encoding.
func ImageVerdict(img image.Image) (suggest string, label int) {
	b := img.Bounds()
	var r, g, bl, n uint64
	// Every 4th pixel each way is plenty for an average.
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			r, g, bl, n = r+uint64(pr>>8), g+uint64(pg>>8), bl+uint64(pb>>8), n+1
		}
	}
	if n == 0 {
		return wechat.SuggestPass, wechat.LabelNormal
	}
	r, g, bl = r/n, g/n, bl/n
	switch {
	case r > 180 && g < 90 && bl < 90:
		return wechat.SuggestRisky, LabelRisky
	case r > 180 && g > 180 && bl < 90:
		return wechat.SuggestReview, LabelReview
	}
	return wechat.SuggestPass, wechat.LabelNormal
}

// MediaCheck is a media check the simulator finished: what WeChat would
// push as a wxa_media_check event. Event is that push's JSON body.
type MediaCheck struct {
	AppID, TraceID, OpenID, MediaURL string
	// Errcode is non-zero when the media could not be fetched or decoded
	// (then Suggest is empty).
	Errcode int
	Suggest string
	Label   int
	// Event is the wxa_media_check event as WeChat pushes it in JSON.
	Event []byte
}

// maxMediaChecks bounds the media checks in flight; past it WeChat is busy.
const maxMediaChecks = 32

// maxMediaBytes bounds what is fetched of a media_url; WeChat's limit is 10 MB.
const maxMediaBytes = 10 << 20

// SetMediaCheckDelivery makes deliver receive each finished media check,
// after delay (from the mediaCheckAsync call). Until the push endpoint
// exists it is the only way a verdict leaves the simulator; a nil deliver
// drops them. deliver runs on a goroutine of its own per check.
func (s *Simulator) SetMediaCheckDelivery(delay time.Duration, deliver func(MediaCheck)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mediaDelay, s.mediaDeliver = delay, deliver
}

// checkUserLocked answers the errcode WeChat gives for an openid it will
// not check content for: one that never logged in to the app, or whose
// last login is over two hours old. It reports whether it answered.
func (s *Simulator) checkUserLocked(w http.ResponseWriter, appID, openID string) bool {
	el, ok := s.byOpenID[openIDKey{appID, openID}]
	switch {
	case openID == "":
		writeErrcode(w, wechat.ErrcodeInvalidArgs)
	case !ok:
		writeErrcode(w, wechat.ErrcodeUserNotRecent)
	case s.now().Sub(el.Value.(*userState).lastLogin) > 2*time.Hour:
		writeErrcode(w, wechat.ErrcodeUserNotRecent)
	default:
		return false
	}
	return true
}

// msgSecCheck serves POST /wxa/msg_sec_check: token, body, version 2,
// scene 1 to 4, a recent user's openid, then the scripted verdict.
func (s *Simulator) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	if serveFault(w, r, s.takeFault(PathMsgSecCheck)) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var in struct {
		Content string `json:"content"`
		Version int    `json:"version"`
		Scene   int    `json:"scene"`
		OpenID  string `json:"openid"`
	}
	appID, ok := s.callLocked(w, r, &in)
	if !ok {
		return
	}
	if in.Content == "" || in.Version != 2 || in.Scene < 1 || in.Scene > 4 {
		writeErrcode(w, wechat.ErrcodeInvalidArgs)
		return
	}
	if s.checkUserLocked(w, appID, in.OpenID) {
		return
	}
	suggest, label := TextVerdict(in.Content)
	writeJSON(w, http.StatusOK, "text/plain", map[string]any{
		"errcode": 0, "errmsg": "ok", "trace_id": traceID(),
		"result": map[string]any{"suggest": suggest, "label": label},
		"detail": []map[string]any{{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}},
	})
}

// mediaCheck serves POST /wxa/media_check_async: checked as msgSecCheck,
// plus media_type 2 and an absolute media_url. It answers a trace_id at
// once and fetches and judges the image on a goroutine, which hands the
// verdict to SetMediaCheckDelivery's function.
func (s *Simulator) mediaCheck(w http.ResponseWriter, r *http.Request) {
	if serveFault(w, r, s.takeFault(PathMediaCheck)) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var in struct {
		MediaURL  string `json:"media_url"`
		MediaType int    `json:"media_type"`
		Version   int    `json:"version"`
		Scene     int    `json:"scene"`
		OpenID    string `json:"openid"`
	}
	appID, ok := s.callLocked(w, r, &in)
	if !ok {
		return
	}
	if (!strings.HasPrefix(in.MediaURL, "http://") && !strings.HasPrefix(in.MediaURL, "https://")) ||
		(in.MediaType != 1 && in.MediaType != 2) || in.Version != 2 || in.Scene < 1 || in.Scene > 4 {
		writeErrcode(w, wechat.ErrcodeInvalidArgs)
		return
	}
	if s.checkUserLocked(w, appID, in.OpenID) {
		return
	}
	if s.mediaInFlight >= maxMediaChecks {
		writeErrcode(w, wechat.ErrcodeBusy)
		return
	}
	s.mediaInFlight++
	mc := MediaCheck{AppID: appID, TraceID: traceID(), OpenID: in.OpenID, MediaURL: in.MediaURL}
	go s.finishMediaCheck(mc, s.mediaDelay, s.mediaDeliver)
	writeJSON(w, http.StatusOK, "text/plain", map[string]any{"errcode": 0, "errmsg": "ok", "trace_id": mc.TraceID})
}

// finishMediaCheck fetches and judges mc's image, waits out the rest of
// delay, and delivers the verdict.
func (s *Simulator) finishMediaCheck(mc MediaCheck, delay time.Duration, deliver func(MediaCheck)) {
	start := time.Now()
	defer func() {
		s.mu.Lock()
		s.mediaInFlight--
		s.mu.Unlock()
	}()
	img, err := fetchImage(mc.MediaURL)
	if err != nil {
		mc.Errcode = errcodeMediaFetch
	} else {
		mc.Suggest, mc.Label = ImageVerdict(img)
	}
	mc.Event = mediaCheckEvent(mc)
	s.mu.Lock()
	s.mediaChecks.push(mc)
	s.mu.Unlock()
	if d := delay - time.Since(start); d > 0 {
		time.Sleep(d)
	}
	if deliver != nil {
		deliver(mc)
	}
}

// errcodeMediaFetch is the wxa_media_check errcode the simulator uses when
// media_url did not give an image.
const errcodeMediaFetch = 87015

// fetchImage GETs u, as WeChat's checker does, and decodes the image.
func fetchImage(u string) (image.Image, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	img, _, err := image.Decode(io.LimitReader(resp.Body, maxMediaBytes))
	return img, err
}

// mediaCheckEvent is mc as WeChat pushes it, in the JSON data format.
func mediaCheckEvent(mc MediaCheck) []byte {
	ev := map[string]any{
		"ToUserName": "gh_simulator", "FromUserName": "oSimulatorPush", "CreateTime": time.Now().Unix(),
		"MsgType": "event", "Event": "wxa_media_check", "appid": mc.AppID, "trace_id": mc.TraceID, "version": 2,
	}
	if mc.Errcode != 0 {
		ev["errcode"], ev["errmsg"] = mc.Errcode, "media fetch or decode failed"
	} else {
		ev["result"] = map[string]any{"suggest": mc.Suggest, "label": mc.Label}
		ev["detail"] = []map[string]any{{"strategy": "content_model", "errcode": 0, "suggest": mc.Suggest, "label": mc.Label, "prob": 90}}
	}
	b, _ := json.Marshal(ev)
	return b
}

// MediaChecks returns the newest finished media checks (Limits.Unexpected
// of them), oldest first.
func (s *Simulator) MediaChecks() []MediaCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mediaChecks.items()
}

// traceID looks like WeChat's: three groups of hex digits.
func traceID() string {
	b := hex.EncodeToString(randomBytes(12))
	return b[:8] + "-" + b[8:16] + "-" + b[16:]
}
