package byok

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// usageJSON is the one JSON form of a usage event: `byokd usage --json`,
// the control API, the sync protocol and the hub all use it. Amounts travel
// as integer micro-dollars; cost_usd is there for people and scripts.
type usageJSON struct {
	ID                 string        `json:"id"`
	Time               string        `json:"time"`
	Service            Service       `json:"service"`
	Model              string        `json:"model"`
	App                string        `json:"app"`
	Project            string        `json:"project"`
	Credential         CredentialRef `json:"credential"`
	Payer              Payer         `json:"payer"`
	Member             string        `json:"member,omitempty"`
	Status             int           `json:"status"`
	InputTokens        int64         `json:"input_tokens"`
	OutputTokens       int64         `json:"output_tokens"`
	CacheReadTokens    int64         `json:"cache_read_tokens"`
	CacheWriteTokens   int64         `json:"cache_write_tokens"`
	CacheWrite5mTokens int64         `json:"cache_write_5m_tokens"`
	CacheWrite1hTokens int64         `json:"cache_write_1h_tokens"`
	Requests           int64         `json:"requests"`
	CostUSD            float64       `json:"cost_usd"`
	CostMicros         Micros        `json:"cost_micros"`
	CostKnown          bool          `json:"cost_known"`
	LatencyMS          float64       `json:"latency_ms"`
	FallbackReason     string        `json:"fallback_reason,omitempty"`
	Relayed            bool          `json:"relayed"`
	Incomplete         bool          `json:"incomplete"`
}

// MarshalJSON writes the event's flat public JSON form.
func (e UsageEvent) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// AppendJSON appends the form MarshalJSON writes, field by field in
// usageJSON's order, without reflection: the ledger's journal writes one
// per call. FuzzUsageEventJSON holds it to encoding/json's reading of
// usageJSON.
func (e UsageEvent) AppendJSON(b []byte) []byte {
	u := &e.Usage
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID)
	b = append(b, `,"time":"`...)
	b = append(e.Time.UTC().AppendFormat(b, time.RFC3339Nano), '"') // no character of it needs escaping
	b = appendStringField(b, "service", string(e.Service))
	b = appendStringField(b, "model", e.Model)
	b = appendStringField(b, "app", e.App)
	b = appendStringField(b, "project", e.Project)
	b = append(b, `,"credential":"`...)
	if !e.Credential.IsZero() { // String's form, without making it
		b = append(appendEscaped(b, string(e.Credential.Payer)), '/')
		b = appendEscaped(b, e.Credential.Name)
	}
	b = append(b, '"')
	b = appendStringField(b, "payer", string(e.Payer))
	if e.Member != "" {
		b = appendStringField(b, "member", e.Member)
	}
	b = appendIntField(b, "status", int64(e.Status))
	b = appendIntField(b, "input_tokens", u.InputTokens)
	b = appendIntField(b, "output_tokens", u.OutputTokens)
	b = appendIntField(b, "cache_read_tokens", u.CacheReadTokens)
	b = appendIntField(b, "cache_write_tokens", u.CacheWriteTokens())
	b = appendIntField(b, "cache_write_5m_tokens", u.CacheWrite5mTokens)
	b = appendIntField(b, "cache_write_1h_tokens", u.CacheWrite1hTokens)
	b = appendIntField(b, "requests", u.Requests)
	b = append(b, `,"cost_usd":`...)
	b = strconv.AppendFloat(b, e.Cost.Dollars(), 'f', -1, 64)
	b = appendIntField(b, "cost_micros", int64(e.Cost))
	b = appendBoolField(b, "cost_known", e.CostKnown)
	b = append(b, `,"latency_ms":`...)
	b = strconv.AppendFloat(b, float64(e.Latency)/float64(time.Millisecond), 'f', -1, 64)
	if e.FallbackReason != "" {
		b = appendStringField(b, "fallback_reason", e.FallbackReason)
	}
	b = appendBoolField(b, "relayed", e.Relayed)
	b = appendBoolField(b, "incomplete", !u.Complete)
	return append(b, '}')
}

func appendStringField(b []byte, name, v string) []byte {
	b = append(append(append(b, ',', '"'), name...), '"', ':')
	return appendJSONString(b, v)
}

func appendIntField(b []byte, name string, v int64) []byte {
	b = append(append(append(b, ',', '"'), name...), '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func appendBoolField(b []byte, name string, v bool) []byte {
	b = append(append(append(b, ',', '"'), name...), '"', ':')
	return strconv.AppendBool(b, v)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	return append(appendEscaped(append(b, '"'), s), '"')
}

// appendEscaped appends s as the inside of a JSON string: quotes,
// backslashes and control characters escaped, invalid UTF-8 replaced by
// U+FFFD (as encoding/json does), U+2028 and U+2029 escaped for
// JavaScript. Runs of printable ASCII, most of any id, name or model, are
// appended whole.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
			j++
		}
		b = append(b, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default: // another control character
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (e *UsageEvent) UnmarshalJSON(b []byte) error {
	var j usageJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return err
	}
	*e = UsageEvent{
		ID: j.ID, Time: t, Service: j.Service, Model: j.Model, App: j.App, Project: j.Project,
		Credential: j.Credential, Payer: j.Payer, Member: j.Member, Status: j.Status,
		Usage: Usage{
			Model: j.Model, InputTokens: j.InputTokens, OutputTokens: j.OutputTokens,
			CacheReadTokens: j.CacheReadTokens, CacheWrite5mTokens: j.CacheWrite5mTokens,
			CacheWrite1hTokens: j.CacheWrite1hTokens, Requests: j.Requests, Complete: !j.Incomplete,
		},
		Cost: j.CostMicros, CostKnown: j.CostKnown,
		Latency:        time.Duration(j.LatencyMS * float64(time.Millisecond)),
		FallbackReason: j.FallbackReason, Relayed: j.Relayed,
	}
	return nil
}
