package wechat

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strconv"
	"unicode/utf8"
)

// PushFormat is the data format a mini program's message push is set to:
// WeChat offers JSON and XML.
type PushFormat string

// The two push formats.
const (
	PushJSON PushFormat = "json"
	PushXML  PushFormat = "xml"
)

// The events wxlogin acts on.
const (
	EventAuthorizationRevoke       = "user_authorization_revoke"
	EventAuthorizationCancellation = "user_authorization_cancellation"
	EventUserInfoModified          = "user_info_modified"
	EventMediaCheck                = "wxa_media_check"
)

// maxPushField bounds every field of a push that is kept (ids, names,
// event names): WeChat's are tens of characters.
const maxPushField = 256

// PushMessage is a pushed message or event, in either format. Fields an
// event does not have are empty.
type PushMessage struct {
	ToUserName   string
	FromUserName string
	CreateTime   int64
	MsgType      string
	Event        string
	// MsgID is the id of an ordinary message (MsgId); events have none.
	MsgID string
	// OpenID, AppID and RevokeInfo are the authorization events'; AppID is
	// also wxa_media_check's appid.
	OpenID     string
	AppID      string
	RevokeInfo string
	PluginID   string
	OpenPID    string
	// TraceID, Version and Result are wxa_media_check's.
	TraceID string
	Version string
	Result  MediaCheckResult
	Errcode string
}

// MediaCheckResult is a content security verdict: suggest is pass, review
// or risky, label the category (100 normal; see WeChat's docs).
type MediaCheckResult struct {
	Suggest string `json:"suggest" xml:"suggest"`
	Label   string `json:"label" xml:"label"`
}

// flex reads a JSON string or number as its text, so that fields WeChat
// sends as either (CreateTime, MsgId, label, RevokeInfo) parse the same.
type flex string

func (f *flex) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flex(n)
	return nil
}

// wire is a push as it arrives, in both formats. JSON matches names
// without regard to case (AppID and appid alike); XML does not, hence
// AppIDLower.
type wire struct {
	XMLName      xml.Name `json:"-" xml:"xml"`
	ToUserName   flex     `json:"ToUserName" xml:"ToUserName"`
	FromUserName flex     `json:"FromUserName" xml:"FromUserName"`
	CreateTime   flex     `json:"CreateTime" xml:"CreateTime"`
	MsgType      flex     `json:"MsgType" xml:"MsgType"`
	Event        flex     `json:"Event" xml:"Event"`
	MsgID        flex     `json:"MsgId" xml:"MsgId"`
	OpenID       flex     `json:"OpenID" xml:"OpenID"`
	AppID        flex     `json:"AppID" xml:"AppID"`
	AppIDLower   flex     `json:"-" xml:"appid"`
	RevokeInfo   flex     `json:"RevokeInfo" xml:"RevokeInfo"`
	PluginID     flex     `json:"PluginID" xml:"PluginID"`
	OpenPID      flex     `json:"OpenPID" xml:"OpenPID"`
	TraceID      flex     `json:"trace_id" xml:"trace_id"`
	Version      flex     `json:"version" xml:"version"`
	Errcode      flex     `json:"errcode" xml:"errcode"`
	Result       struct {
		Suggest flex `json:"suggest" xml:"suggest"`
		Label   flex `json:"label" xml:"label"`
	} `json:"result" xml:"result"`
	Encrypt flex `json:"Encrypt" xml:"Encrypt"`
}

// DetectPushFormat tells a JSON body from an XML one by its first
// non-space byte; ErrPushBody for anything else.
func DetectPushFormat(body []byte) (PushFormat, error) {
	b := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(b) > 0 && b[0] == '{':
		return PushJSON, nil
	case len(b) > 0 && b[0] == '<':
		return PushXML, nil
	}
	return "", ErrPushBody
}

func decodeWire(body []byte) (*wire, PushFormat, error) {
	f, err := DetectPushFormat(body)
	if err != nil {
		return nil, "", err
	}
	if !utf8.Valid(body) {
		return nil, "", ErrPushBody
	}
	var w wire
	if f == PushJSON {
		err = json.Unmarshal(body, &w)
	} else {
		err = xml.Unmarshal(body, &w)
	}
	if err != nil {
		return nil, "", ErrPushBody
	}
	return &w, f, nil
}

// PushEnvelope reads a safe-mode body ({"ToUserName","Encrypt"} or the
// same in <xml>) and returns its format and Encrypt field.
func PushEnvelope(body []byte) (PushFormat, string, error) {
	w, f, err := decodeWire(body)
	if err != nil {
		return "", "", err
	}
	if w.Encrypt == "" {
		return "", "", ErrPushBody
	}
	return f, string(w.Encrypt), nil
}

// ParsePushMessage reads a plaintext (or decrypted) message in either
// format. It must have a MsgType and a numeric CreateTime, and every kept
// field at most maxPushField bytes: ErrPushBody otherwise.
func ParsePushMessage(body []byte) (*PushMessage, PushFormat, error) {
	w, f, err := decodeWire(body)
	if err != nil {
		return nil, "", err
	}
	created, err := strconv.ParseInt(string(w.CreateTime), 10, 64)
	if err != nil || w.MsgType == "" {
		return nil, "", ErrPushBody
	}
	m := &PushMessage{
		ToUserName: string(w.ToUserName), FromUserName: string(w.FromUserName), CreateTime: created,
		MsgType: string(w.MsgType), Event: string(w.Event), MsgID: string(w.MsgID),
		OpenID: string(w.OpenID), AppID: string(w.AppID), RevokeInfo: string(w.RevokeInfo),
		PluginID: string(w.PluginID), OpenPID: string(w.OpenPID),
		TraceID: string(w.TraceID), Version: string(w.Version), Errcode: string(w.Errcode),
		Result: MediaCheckResult{Suggest: string(w.Result.Suggest), Label: string(w.Result.Label)},
	}
	if m.AppID == "" {
		m.AppID = string(w.AppIDLower)
	}
	for _, s := range []string{m.ToUserName, m.FromUserName, m.MsgType, m.Event, m.MsgID, m.OpenID, m.AppID,
		m.RevokeInfo, m.PluginID, m.OpenPID, m.TraceID, m.Version, m.Errcode, m.Result.Suggest, m.Result.Label} {
		if len(s) > maxPushField {
			return nil, "", ErrPushBody
		}
	}
	return m, f, nil
}

// EncodePushMessage writes m in format f the way WeChat does, for the
// simulator and tests: fields left empty are left out.
func EncodePushMessage(m *PushMessage, f PushFormat) []byte {
	type kv struct{ k, v string }
	fields := []kv{{"ToUserName", m.ToUserName}, {"FromUserName", m.FromUserName}, {"CreateTime", strconv.FormatInt(m.CreateTime, 10)},
		{"MsgType", m.MsgType}, {"Event", m.Event}, {"MsgId", m.MsgID}}
	if m.Event == EventMediaCheck {
		fields = append(fields, kv{"appid", m.AppID}, kv{"trace_id", m.TraceID}, kv{"version", m.Version}, kv{"errcode", m.Errcode})
	} else {
		fields = append(fields, kv{"OpenID", m.OpenID}, kv{"AppID", m.AppID}, kv{"RevokeInfo", m.RevokeInfo},
			kv{"PluginID", m.PluginID}, kv{"OpenPID", m.OpenPID})
	}
	hasResult := m.Result != (MediaCheckResult{})
	if f == PushJSON {
		obj := map[string]any{}
		for _, e := range fields {
			if e.v != "" {
				obj[e.k] = e.v
			}
		}
		obj["CreateTime"] = m.CreateTime
		if hasResult {
			obj["result"] = m.Result
		}
		b, _ := json.Marshal(obj)
		return b
	}
	var buf bytes.Buffer
	buf.WriteString("<xml>")
	for _, e := range fields {
		if e.v != "" {
			writeXMLField(&buf, e.k, e.v, e.k != "CreateTime")
		}
	}
	if hasResult {
		buf.WriteString("<result>")
		writeXMLField(&buf, "suggest", m.Result.Suggest, true)
		writeXMLField(&buf, "label", m.Result.Label, false)
		buf.WriteString("</result>")
	}
	buf.WriteString("</xml>")
	return buf.Bytes()
}

// EncodePushEnvelope writes a safe-mode body holding encrypt.
func EncodePushEnvelope(toUserName, encrypt string, f PushFormat) []byte {
	if f == PushJSON {
		b, _ := json.Marshal(map[string]string{"ToUserName": toUserName, "Encrypt": encrypt})
		return b
	}
	var buf bytes.Buffer
	buf.WriteString("<xml>")
	writeXMLField(&buf, "ToUserName", toUserName, true)
	writeXMLField(&buf, "Encrypt", encrypt, true)
	buf.WriteString("</xml>")
	return buf.Bytes()
}

// writeXMLField writes <k>v</k>, v in CDATA as WeChat writes text, or
// escaped when it cannot be (it holds "]]>") or is a number.
func writeXMLField(buf *bytes.Buffer, k, v string, cdata bool) {
	buf.WriteString("<" + k + ">")
	if cdata && !bytes.Contains([]byte(v), []byte("]]>")) {
		buf.WriteString("<![CDATA[" + v + "]]>")
	} else {
		_ = xml.EscapeText(buf, []byte(v))
	}
	buf.WriteString("</" + k + ">")
}
