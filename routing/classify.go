package routing

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"byokd.dev/byok"
)

// Failure is what came back from one attempt: either a response with an
// error status (Status, Header and the first part of Body, as sent, possibly
// gzip-encoded), or ConnErr when the attempt failed before any response byte.
type Failure struct {
	Status  int
	Header  http.Header
	Body    []byte
	ConnErr error
}

// Verdict is Classify's reading of a Failure.
type Verdict struct {
	// Fallback: the next step of the plan may be tried.
	Fallback bool
	// Reason is short, for the ledger and the notification ("invalid key",
	// "over quota", "rate limited"); empty if the failure is not one
	// Classify knows.
	Reason string
	// CoolDown: the personal key cannot pay right now (invalid, deactivated,
	// out of quota or credit, spend limit reached, region-blocked); skip it
	// for a while. See Health.
	CoolDown bool
	// RateLimit: a rate limit or overload, which passes by itself.
	RateLimit bool
}

// Reasons Classify gives in Verdict.Reason.
const (
	ReasonInvalidKey   = "invalid key"
	ReasonDeactivated  = "account deactivated"
	ReasonQuota        = "over quota"
	ReasonBilling      = "billing"
	ReasonSpendLimit   = "spend limit"
	ReasonRegion       = "region blocked"
	ReasonNotPermitted = "not permitted"
	ReasonUnauthorized = "unauthorized"
	ReasonRateLimited  = "rate limited"
	ReasonOverloaded   = "overloaded"
	ReasonConnFailed   = "connection failed"
	ReasonTimeout      = "timed out"
	ReasonCanceled     = "canceled"
)

// Classify reads an upstream failure of a personal key for svc and says
// whether the next credential may be tried, why, and whether the key should
// cool down. Only failures meaning the personal key cannot pay move on; an
// ordinary client error (a bad request, an unknown model) never does, since
// the next credential would fail the same way. True rate limits and
// overloads move on only if fallbackOnRateLimit is set. Connection failures
// and timeouts before any response byte move on; a call the client itself
// canceled does not.
func Classify(svc byok.Service, f Failure, fallbackOnRateLimit bool) Verdict {
	if f.ConnErr != nil {
		return classifyConn(f.ConnErr)
	}
	if f.Status < 400 {
		return Verdict{}
	}
	e := parseError(f)
	switch svc {
	case byok.OpenAI:
		return classifyOpenAI(f, e, fallbackOnRateLimit)
	case byok.Anthropic:
		return classifyAnthropic(f, e, fallbackOnRateLimit)
	case byok.ClickUp:
		return classifyClickUp(f, e)
	}
	return Verdict{}
}

func classifyConn(err error) Verdict {
	if errors.Is(err, context.Canceled) {
		return Verdict{Reason: ReasonCanceled}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return Verdict{Fallback: true, Reason: ReasonTimeout}
	}
	return Verdict{Fallback: true, Reason: ReasonConnFailed}
}

// rateLimited is a rate limit or overload: it moves on only if the member
// allowed that, and the key does not cool down.
func rateLimited(reason string, allowed bool) Verdict {
	return Verdict{Fallback: allowed, Reason: reason, RateLimit: true}
}

// cannotPay is a failure that means the key cannot pay for any call now.
func cannotPay(reason string) Verdict {
	return Verdict{Fallback: true, Reason: reason, CoolDown: true}
}

// OpenAI: {"error":{"message":…,"type":…,"param":…,"code":…}}. The code
// decides, not the status: insufficient_quota and rate_limit_exceeded are
// both 429s.
func classifyOpenAI(f Failure, e apiError, rl bool) Verdict {
	switch e.Code {
	case "insufficient_quota":
		return cannotPay(ReasonQuota)
	case "billing_not_active", "billing_hard_limit_reached":
		return cannotPay(ReasonBilling)
	case "account_deactivated":
		return cannotPay(ReasonDeactivated)
	case "unsupported_country_region_territory":
		return cannotPay(ReasonRegion)
	}
	switch f.Status {
	case http.StatusUnauthorized:
		// A restricted key without the scope for this endpoint is fine
		// elsewhere: move on, but keep using it for other calls.
		if containsFold(e.Message, "insufficient permissions") {
			return Verdict{Fallback: true, Reason: ReasonNotPermitted}
		}
		return cannotPay(ReasonInvalidKey)
	case http.StatusForbidden:
		// Model access is per project: the shared key may have it.
		return Verdict{Fallback: true, Reason: ReasonNotPermitted}
	case http.StatusTooManyRequests:
		if e.Type == "insufficient_quota" {
			return cannotPay(ReasonQuota)
		}
		return rateLimited(ReasonRateLimited, rl)
	}
	return Verdict{}
}

// Anthropic: {"type":"error","error":{"type":…,"message":…}}. Low credit and
// reached spend limits come as 400 invalid_request_error; only the message
// tells them from a bad request.
func classifyAnthropic(f Failure, e apiError, rl bool) Verdict {
	switch {
	case f.Status == 529 || e.Type == "overloaded_error":
		return rateLimited(ReasonOverloaded, rl)
	case f.Status == http.StatusUnauthorized:
		return cannotPay(ReasonInvalidKey)
	case f.Status == http.StatusPaymentRequired:
		return cannotPay(ReasonBilling)
	case f.Status == http.StatusForbidden:
		if containsFold(e.Message, "organization has been disabled") {
			return cannotPay(ReasonDeactivated)
		}
		return Verdict{Fallback: true, Reason: ReasonNotPermitted}
	case f.Status == http.StatusTooManyRequests:
		// A true rate limit says when to retry; a spend cap does not.
		if spendCap(e.Message) || (e.Type == "rate_limit_error" && f.Header.Get("Retry-After") == "") {
			return cannotPay(ReasonSpendLimit)
		}
		return rateLimited(ReasonRateLimited, rl)
	case f.Status == http.StatusBadRequest && e.Type == "invalid_request_error":
		switch {
		case containsFold(e.Message, "credit balance is too low"):
			return cannotPay(ReasonBilling)
		case spendCap(e.Message):
			return cannotPay(ReasonSpendLimit)
		case containsFold(e.Message, "organization has been disabled"):
			return cannotPay(ReasonDeactivated)
		}
	}
	return Verdict{}
}

func spendCap(msg string) bool {
	return containsFold(msg, "usage limit") || containsFold(msg, "spend limit")
}

// ClickUp: {"err":…,"ECODE":…}. Every 401 with an OAUTH_ code moves on; the
// token-not-found family means the token itself is bad. A 429 is the token's
// per-minute limit, which depends on the workspace's plan, so it moves on
// whatever the member's rate-limit switch says.
func classifyClickUp(f Failure, e apiError) Verdict {
	switch f.Status {
	case http.StatusUnauthorized:
		if !strings.HasPrefix(e.Code, "OAUTH_") {
			return Verdict{}
		}
		switch e.Code {
		case "OAUTH_019", "OAUTH_021", "OAUTH_025", "OAUTH_077":
			return cannotPay(ReasonInvalidKey)
		case "OAUTH_017":
			return Verdict{Fallback: true, Reason: ReasonUnauthorized}
		}
		return Verdict{Fallback: true, Reason: ReasonNotPermitted}
	case http.StatusTooManyRequests:
		return rateLimited(ReasonRateLimited, true)
	}
	return Verdict{}
}

// apiError is the part of a provider's error body Classify reads: Type and
// Message of OpenAI's and Anthropic's error object, OpenAI's code, and
// ClickUp's ECODE (in Code) and err (in Message).
type apiError struct {
	Type, Code, Message string
}

// maxBody bounds how much of a (decompressed) error body is read.
const maxBody = 64 << 10

func parseError(f Failure) apiError {
	body := f.Body
	if f.Header.Get("Content-Encoding") == "gzip" || bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return apiError{}
		}
		// A truncated stream still gives what it decoded.
		body, _ = io.ReadAll(io.LimitReader(zr, maxBody))
	}
	var raw struct {
		Error json.RawMessage `json:"error"`
		Err   string          `json:"err"`
		ECODE string          `json:"ECODE"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return apiError{}
	}
	e := apiError{Code: raw.ECODE, Message: raw.Err}
	var obj struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if len(raw.Error) > 0 && raw.Error[0] == '{' && json.Unmarshal(raw.Error, &obj) == nil {
		e.Type, e.Message = obj.Type, obj.Message
		// code is a string, null, or (in some compatible servers) a number.
		var code string
		if json.Unmarshal(obj.Code, &code) == nil {
			e.Code = code
		}
	}
	return e
}

// containsFold reports whether substr is in s, ignoring ASCII case.
func containsFold(s, substr string) bool {
	n := len(substr)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], substr) {
			return true
		}
	}
	return false
}
