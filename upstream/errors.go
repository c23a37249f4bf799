package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"byokd.dev/byok"
)

// WriteError answers r in svc's error JSON shape, so that the provider's
// SDKs print r.Message:
//
//	OpenAI:    {"error":{"message":…,"type":"byokd_error","param":null,"code":…}}
//	Anthropic: {"type":"error","error":{"type":…,"message":…}}
//	ClickUp:   {"err":…,"ECODE":"BYOKD_…"}
func WriteError(w http.ResponseWriter, svc byok.Service, r *byok.Refusal) {
	var body any
	switch svc {
	case byok.Anthropic:
		body = map[string]any{
			"type":  "error",
			"error": map[string]any{"type": anthropicErrorType(r.Status), "message": r.Message},
		}
	case byok.ClickUp:
		body = map[string]any{"err": r.Message, "ECODE": "BYOKD_" + r.Code}
	default:
		body = map[string]any{"error": map[string]any{
			"message": r.Message, "type": "byokd_error", "param": nil, "code": r.Code,
		}}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(r.Status)
	_ = json.NewEncoder(w).Encode(body)
}

// anthropicErrorType is the error type Anthropic's API uses for status,
// which its SDK maps to an exception class.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusMethodNotAllowed:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	}
	return "api_error"
}

// StatusClientGone is the status recorded for a call whose client went
// away before its answer ended (nginx's 499).
const StatusClientGone = 499

// failure maps a call that no credential completed to what the client is
// told: 499 when it went away (nothing is written), 504 when the party that
// cred reaches did not answer in time, else 502. The message names that
// party — the provider's API, or the team hub for a relayed call — so
// that nobody blames the provider for a hub that is down.
func (f *Forwarder) failure(ctx context.Context, err error, svc byok.Service, cred Credential) *byok.Refusal {
	party, advice := "the "+svc.Title()+" API", f.cfg.Advice
	if cred.Relay != nil {
		party, advice = "the team hub", "; check that the hub is up (`byokd status`) or ask your admin"
	}
	switch {
	case ctx.Err() != nil:
		return &byok.Refusal{Status: StatusClientGone, Code: "client_gone"}
	case isTimeout(err):
		return &byok.Refusal{Status: http.StatusGatewayTimeout, Code: "upstream_timeout",
			Message: f.cfg.Who + ": " + party + " did not answer in time; try again"}
	}
	return &byok.Refusal{Status: http.StatusBadGateway, Code: "upstream_unreachable",
		Message: f.cfg.Who + ": could not reach " + party + ": " + errText(err) + advice}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

// errText keeps an error's message short and free of URLs (with their
// userinfo): the innermost error of a *url.Error and its kin.
func errText(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
