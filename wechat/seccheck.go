package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"
)

// Scenes of the content security checks (v2): what the content is for.
// WeChat tunes its verdict to the scene.
const (
	SceneProfile = 1 // 资料: a user's own profile (nickname, avatar)
	SceneComment = 2 // 评论
	SceneForum   = 3 // 论坛
	SceneSocial  = 4 // 社交日志
)

// The suggestions of a content security verdict (result.suggest).
const (
	SuggestPass   = "pass"   // show it
	SuggestReview = "review" // show it, but a person should look
	SuggestRisky  = "risky"  // do not show it
)

// LabelNormal is the label of content that hit no category. The others
// WeChat documents: 10001 ad, 20001 politics, 20002 porn, 20003 abuse,
// 20006 crime, 20008 fraud, 20012 vulgar, 20013 copyright, 21000 other.
const LabelNormal = 100

// MaxCheckText bounds what msgSecCheck accepts, in characters.
const MaxCheckText = 2500

// ErrcodeUserNotRecent is the content checks' refusal of an openid that has
// not used the mini program in the last two hours; WeChat checks content
// only on behalf of a recent user.
const ErrcodeUserNotRecent = 61010

// ErrOpenIDRefused means WeChat would not check content on behalf of the
// openid given: unknown to the app (40003) or not seen in the last two
// hours (61010). Logging in again (wx.login) makes the user recent.
var ErrOpenIDRefused = errors.New("wechat: openid refused for a content check")

// Verdict is WeChat's answer on one piece of content: result.suggest,
// result.label and the trace_id that WeChat support asks for.
type Verdict struct {
	// Suggest is SuggestPass, SuggestReview or SuggestRisky.
	Suggest string
	// Label is the category the content hit, LabelNormal for none.
	Label   int
	TraceID string
	// Details are the verdicts of WeChat's individual strategies.
	Details []VerdictDetail
}

// VerdictDetail is one strategy's verdict (an element of detail[]).
type VerdictDetail struct {
	Strategy string
	Errcode  int
	Suggest  string
	Label    int
	Prob     int
	// Keyword is the word that hit, for the keyword strategy.
	Keyword string
}

// verdictAnswer is msgSecCheck's answer and the wxa_media_check event's
// body alike.
type verdictAnswer struct {
	TraceID string `json:"trace_id"`
	Result  *struct {
		Suggest string  `json:"suggest"`
		Label   flexInt `json:"label"`
	} `json:"result"`
	Detail []struct {
		Strategy string  `json:"strategy"`
		Errcode  int     `json:"errcode"`
		Suggest  string  `json:"suggest"`
		Label    flexInt `json:"label"`
		Prob     flexInt `json:"prob"`
		Keyword  string  `json:"keyword"`
	} `json:"detail"`
}

// flexInt takes a number whether WeChat sends it as a JSON number (as it
// does) or a string of digits (as its documentation once said).
type flexInt int

// UnmarshalJSON accepts 20001 and "20001"; anything else is an error.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseFloat(string(b), 64)
	if err != nil || n < -1e9 || n > 1e9 {
		return errors.New("not a number")
	}
	*f = flexInt(n)
	return nil
}

// validSuggest reports whether s is one of the three suggestions.
func validSuggest(s string) bool {
	return s == SuggestPass || s == SuggestReview || s == SuggestRisky
}

// MsgSecCheck asks WeChat whether text is fit to show, at /wxa/msg_sec_check
// (version 2): scene is one of the Scene constants and openID the user's in
// this app, who must have used the mini program in the last two hours.
// WeChat answers at once. Errors: *MalformedError for empty or overlong
// text (WeChat not called); ErrOpenIDRefused; ErrRateLimited;
// ErrUnavailable (also when the access token is refused after renewal, or
// the answer has no verdict); other errcodes as *APIError.
func (c *Client) MsgSecCheck(ctx context.Context, content, openID string, scene int) (*Verdict, error) {
	const path = "/wxa/msg_sec_check"
	if content == "" || utf8.RuneCountInString(content) > MaxCheckText {
		return nil, &MalformedError{"content", "must be 1 to " + strconv.Itoa(MaxCheckText) + " characters"}
	}
	if openID == "" {
		return nil, errors.New("wechat: MsgSecCheck needs the user's openid")
	}
	body := struct {
		Content string `json:"content"`
		Version int    `json:"version"`
		Scene   int    `json:"scene"`
		OpenID  string `json:"openid"`
	}{content, 2, scene, openID}
	var out verdictAnswer
	err := c.withToken(ctx, func(ctx context.Context, token string) error {
		return c.do(ctx, http.MethodPost, path, url.Values{"access_token": {token}}, body, &out)
	})
	if err != nil {
		return nil, err
	}
	v, ok := out.verdict()
	if !ok {
		return nil, unavailable("%s: answer lacks result.suggest", path)
	}
	return v, nil
}

// verdict reads the answer; false when it holds no valid suggestion.
func (a *verdictAnswer) verdict() (*Verdict, bool) {
	if a.Result == nil || !validSuggest(a.Result.Suggest) {
		return nil, false
	}
	v := &Verdict{Suggest: a.Result.Suggest, Label: int(a.Result.Label), TraceID: a.TraceID}
	for _, d := range a.Detail {
		v.Details = append(v.Details, VerdictDetail{Strategy: d.Strategy, Errcode: d.Errcode, Suggest: d.Suggest,
			Label: int(d.Label), Prob: int(d.Prob), Keyword: d.Keyword})
	}
	return v, true
}

// MediaTypeImage is mediaCheckAsync's media_type of an image (1 is audio).
const MediaTypeImage = 2

// MediaCheckAsync asks WeChat to check the image at mediaURL, an absolute
// http(s) URL WeChat fetches itself, at /wxa/media_check_async (version 2).
// It returns the trace_id at once; the verdict comes later, pushed to the
// mini program's message push URL as a wxa_media_check event with the same
// trace_id (ParseMediaCheckEvent reads its JSON). scene and openID are as
// for MsgSecCheck. Errors: as MsgSecCheck's, and an error for a mediaURL
// that is not absolute http(s) (WeChat not called).
func (c *Client) MediaCheckAsync(ctx context.Context, mediaURL, openID string, scene int) (string, error) {
	const path = "/wxa/media_check_async"
	if u, err := url.Parse(mediaURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("wechat: MediaCheckAsync needs an absolute http(s) media URL")
	}
	if openID == "" {
		return "", errors.New("wechat: MediaCheckAsync needs the user's openid")
	}
	body := struct {
		MediaURL  string `json:"media_url"`
		MediaType int    `json:"media_type"`
		Version   int    `json:"version"`
		Scene     int    `json:"scene"`
		OpenID    string `json:"openid"`
	}{mediaURL, MediaTypeImage, 2, scene, openID}
	var out struct {
		TraceID string `json:"trace_id"`
	}
	err := c.withToken(ctx, func(ctx context.Context, token string) error {
		return c.do(ctx, http.MethodPost, path, url.Values{"access_token": {token}}, body, &out)
	})
	if err != nil {
		return "", err
	}
	if out.TraceID == "" || len(out.TraceID) > MaxTraceID {
		return "", unavailable("%s: answer lacks a usable trace_id", path)
	}
	return out.TraceID, nil
}

// MaxTraceID bounds a trace_id we keep; WeChat's are about 30 characters.
const MaxTraceID = 128

// MediaCheckEvent is the verdict of a MediaCheckAsync, as WeChat pushes it
// (Event "wxa_media_check").
type MediaCheckEvent struct {
	AppID   string
	TraceID string
	// Errcode is non-zero when WeChat could not check the media (it could
	// not fetch it, say); the Verdict is then empty.
	Errcode int
	Verdict
}

// ParseMediaCheckEvent reads a wxa_media_check event's JSON (the plaintext
// of a push in JSON format). It fails on anything that is not such an
// event with a trace_id.
func ParseMediaCheckEvent(data []byte) (*MediaCheckEvent, error) {
	var in struct {
		verdictAnswer
		Event   string `json:"Event"`
		AppID   string `json:"appid"`
		Errcode int    `json:"errcode"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, errors.New("wechat: media check event is not JSON of the expected shape")
	}
	if in.Event != "wxa_media_check" || in.TraceID == "" || len(in.TraceID) > MaxTraceID {
		return nil, errors.New("wechat: not a wxa_media_check event with a trace_id")
	}
	ev := &MediaCheckEvent{AppID: in.AppID, TraceID: in.TraceID, Errcode: in.Errcode}
	if v, ok := in.verdict(); ok {
		ev.Verdict = *v
	} else if ev.Errcode == 0 {
		return nil, errors.New("wechat: wxa_media_check event without errcode or result.suggest")
	}
	return ev, nil
}
