package localproxy

import (
	"encoding/json"
	"net/http"

	"byokd.dev/byok"
)

// Refusal is an error the proxy answers itself, in the provider's own error
// shape so that SDKs print Message. Message starts with "byokd:" and says
// what to do.
type Refusal struct {
	Status  int
	Code    string // machine-readable, e.g. "no_key", "budget_reached"
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// writeError answers in svc's error JSON shape:
//
//	OpenAI:    {"error":{"message":…,"type":…,"param":null,"code":…}}
//	Anthropic: {"type":"error","error":{"type":…,"message":…}}
//	ClickUp:   {"err":…,"ECODE":…}
func writeError(w http.ResponseWriter, svc byok.Service, r *Refusal) {
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

func anthropicErrorType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	return "api_error"
}
