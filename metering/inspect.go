package metering

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"byokd.dev/byok"
)

// maxModel is the longest model name kept; longer names are cut.
const maxModel = 200

// BodyError says why Inspect cannot read a request body unambiguously;
// the call is then refused, never sent unmetered.
type BodyError struct{ Reason string }

func (e *BodyError) Error() string { return "the request body " + e.Reason }

func bodyErr(format string, args ...any) *BodyError {
	return &BodyError{Reason: fmt.Sprintf(format, args...)}
}

// fields are the top-level members Inspect reads: a name twice (after
// unescaping) is refused, because parsers disagree on which one counts
// (the providers' keep the last; others keep the first).
var fields = [...]string{"model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "max_output_tokens"}

// Inspect reads a request body the way the provider's own parser does —
// key names unescaped, a name's last member counts — and returns the body
// to send upstream and the Call, which also feeds the approval prompt and
// the budget estimate. Only the endpoints byokd meters are read; their
// bodies must be one JSON object in which each member byokd reads appears
// once with a value of its type, or Inspect returns a *BodyError: what
// byokd cannot read for sure it does not send.
//
// The body is the same slice unless changed: for an OpenAI chat or legacy
// completions stream whose client did not ask for usage (no
// stream_options.include_usage, or false or null), it returns a new body
// that asks for it, with every other byte as it was (key order, spacing
// and numbers survive), and sets Call.InjectedUsage. Inspect never keeps
// body.
func Inspect(svc byok.Service, path string, body []byte) ([]byte, Call, error) {
	c := Call{Service: svc, Path: path, InputBytes: len(body)}
	switch formatOf(svc, path) {
	case formatNone, formatClickUp, formatBatch:
		return body, c, nil
	}
	if !json.Valid(body) {
		if len(bytes.TrimSpace(body)) == 0 {
			return body, c, bodyErr("is empty; this endpoint takes a JSON object")
		}
		return body, c, bodyErr("is not valid JSON")
	}
	it, ok := newObjIter(body, 0)
	if !ok {
		return body, c, bodyErr("is not a JSON object")
	}
	var so member // stream_options
	var last member
	hasSO, some := false, false
	var seen uint8 // a bit per field
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		some, last = true, m
		i := fieldOf(m.key(body))
		if i < 0 {
			continue
		}
		name := fields[i]
		if seen&(1<<i) != 0 {
			return body, c, bodyErr("has %q more than once: parsers disagree on which one counts, so byokd cannot meter it; send each field once", name)
		}
		seen |= 1 << i
		v := m.value(body)
		switch name {
		case "model":
			if !isNull(v) && (len(v) == 0 || v[0] != '"') {
				return body, c, bodyErr("has a %q that is not a string", name)
			}
			c.Model = decodeString(v)
		case "stream":
			switch string(v) {
			case "true":
				c.Stream = true
			case "false", "null":
			default:
				return body, c, bodyErr("has a %q that is not true or false", name)
			}
		case "stream_options":
			so, hasSO = m, true
		default: // the output limits
			if n, ok := parseCount(v); ok && n > c.MaxTokens {
				c.MaxTokens = n
			}
		}
	}
	if svc != byok.OpenAI || !c.Stream || !some || !injectsUsage(path) {
		return body, c, nil
	}
	out, changed, err := askUsage(body, last, so, hasSO)
	if err != nil || !changed {
		return body, c, err
	}
	c.InjectedUsage = true
	return out, c, nil
}

// fieldOf is the index in fields of the member whose key is raw, read as
// a parser reads it (escapes undone), or -1.
func fieldOf(raw []byte) int {
	for i, f := range fields {
		if isKey(raw, f) {
			return i
		}
	}
	return -1
}

// isKey reports whether the key raw, as written, is name once unescaped.
// A key without escapes is compared as it is, allocating nothing.
func isKey(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var s string
	return json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) == nil && s == name
}

// askUsage returns body with stream_options.include_usage set to true, and
// whether that needed a change. last is the object's last member, so the
// last stream_options member if present.
func askUsage(body []byte, last, so member, hasSO bool) ([]byte, bool, error) {
	if !hasSO {
		return splice(body, last.valEnd, last.valEnd, `,"stream_options":{"include_usage":true}`), true, nil
	}
	v := so.value(body)
	if isNull(v) {
		return splice(body, so.valStart, so.valEnd, `{"include_usage":true}`), true, nil
	}
	it, ok := newObjIter(body, so.valStart)
	if !ok {
		return body, false, bodyErr("has a \"stream_options\" that is not an object")
	}
	var iu, lastOpt member
	hasIU, anyOpt := false, false
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		anyOpt, lastOpt = true, m
		if isKey(m.key(body), "include_usage") {
			if hasIU {
				return body, false, bodyErr("has \"stream_options.include_usage\" more than once: parsers disagree on which one counts, so byokd cannot meter it; send each field once")
			}
			iu, hasIU = m, true
		}
	}
	switch {
	case !hasIU && anyOpt:
		return splice(body, lastOpt.valEnd, lastOpt.valEnd, `,"include_usage":true`), true, nil
	case !hasIU:
		return splice(body, so.valStart+1, so.valStart+1, `"include_usage":true`), true, nil
	}
	switch string(iu.value(body)) {
	case "false", "null":
		return splice(body, iu.valStart, iu.valEnd, `true`), true, nil
	case "true":
		return body, false, nil
	}
	return body, false, bodyErr("has a \"stream_options.include_usage\" that is not true or false")
}

// splice returns a new slice: b with b[from:to] replaced by s.
func splice(b []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(b)-(to-from)+len(s))
	out = append(out, b[:from]...)
	out = append(out, s...)
	return append(out, b[to:]...)
}

// decodeString returns the JSON string v cleaned (byok.CleanText: valid
// UTF-8, no control characters, at most maxModel bytes), or "" if v is not
// a string.
func decodeString(v []byte) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return ""
	}
	var s string
	// Invalid UTF-8 goes through the decoder too, which replaces each bad
	// byte as the providers' parsers do.
	if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		s = string(inner)
	} else if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return byok.CleanText(s, maxModel)
}
