package metering

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"byokd.dev/byok"
)

// maxModel is the longest model name kept; longer names are cut.
const maxModel = 200

// Inspect reads a request body and returns the body to send upstream and
// the Call. The body is the same slice unless changed: for an OpenAI chat
// completions stream whose client did not ask for usage (no
// stream_options.include_usage, or false or null), it returns a new body that
// asks for it, with every other byte as it was (key order, spacing and
// numbers survive), and sets Call.InjectedUsage. Invalid JSON is never
// changed; the Call then holds whatever could be read. Inspect never keeps
// body.
func Inspect(svc byok.Service, path string, body []byte) ([]byte, Call) {
	c := Call{Service: svc, Path: path, InputBytes: len(body)}
	it, ok := newObjIter(body, 0)
	if !ok {
		return body, c
	}
	var so member // the last stream_options member
	var last member
	hasSO, some := false, false
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		some, last = true, m
		v := m.value(body)
		switch string(m.key(body)) {
		case "model":
			c.Model = decodeString(v)
		case "stream":
			c.Stream = string(v) == "true"
		case "stream_options":
			so, hasSO = m, true
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			if n, ok := parseCount(v); ok && n > c.MaxTokens {
				c.MaxTokens = n
			}
		}
	}
	if svc != byok.OpenAI || !c.Stream || !some || it.end < 0 || !isChatCompletions(path) {
		return body, c
	}
	out, changed := askUsage(body, last, so, hasSO)
	if !changed || !json.Valid(body) {
		return body, c
	}
	c.InjectedUsage = true
	return out, c
}

// askUsage returns body with stream_options.include_usage set to true, and
// whether that needed a change. last is the object's last member, so the
// last stream_options member if present.
func askUsage(body []byte, last, so member, hasSO bool) ([]byte, bool) {
	if !hasSO {
		return splice(body, last.valEnd, last.valEnd, `,"stream_options":{"include_usage":true}`), true
	}
	v := so.value(body)
	if isNull(v) {
		return splice(body, so.valStart, so.valEnd, `{"include_usage":true}`), true
	}
	it, ok := newObjIter(body, so.valStart)
	if !ok {
		return body, false // not an object: the upstream will refuse it
	}
	var iu, lastOpt member
	hasIU, anyOpt := false, false
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		anyOpt, lastOpt = true, m
		if string(m.key(body)) == "include_usage" {
			iu, hasIU = m, true
		}
	}
	if it.end < 0 {
		return body, false
	}
	switch {
	case !hasIU && anyOpt:
		return splice(body, lastOpt.valEnd, lastOpt.valEnd, `,"include_usage":true`), true
	case !hasIU:
		return splice(body, so.valStart+1, so.valStart+1, `"include_usage":true`), true
	}
	switch string(iu.value(body)) {
	case "false", "null":
		return splice(body, iu.valStart, iu.valEnd, `true`), true
	}
	return body, false // true already, or a value the upstream will refuse
}

// splice returns a new slice: b with b[from:to] replaced by s.
func splice(b []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(b)-(to-from)+len(s))
	out = append(out, b[:from]...)
	out = append(out, s...)
	return append(out, b[to:]...)
}

// decodeString returns the JSON string v as valid UTF-8 of at most maxModel
// bytes, or "" if v is not a string.
func decodeString(v []byte) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return ""
	}
	var s string
	if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 {
		s = string(inner)
	} else if json.Unmarshal(v, &s) != nil {
		return ""
	}
	if len(s) > maxModel {
		s = s[:maxModel]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}
