package hub

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"byokd.dev/byok"
	"byokd.dev/byok/teamsync"
)

// ErrInvalid marks a request refused as malformed; its message reaches the
// user.
var ErrInvalid = errors.New("invalid request")

// writeErr answers the hub's API errors (not the relay's).
func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(teamsync.ErrorBody{Error: msg, Code: code})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// reply answers v, or err mapped to a status.
func reply(log *slog.Logger, w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		writeJSON(w, v)
	case errors.Is(err, byok.ErrNotFound):
		writeErr(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, byok.ErrExists):
		writeErr(w, http.StatusConflict, "exists", err.Error())
	case errors.Is(err, ErrInvalid):
		writeErr(w, http.StatusBadRequest, "invalid", err.Error())
	case errors.Is(err, byok.ErrLocked):
		writeErr(w, http.StatusServiceUnavailable, "locked", err.Error())
	case errors.Is(err, byok.ErrUnauthorized):
		writeErr(w, http.StatusUnauthorized, "unauthorized", err.Error())
	default:
		log.Error("request failed", "err", err)
		writeErr(w, http.StatusInternalServerError, "internal", "byokd hub: internal error; see the hub's log")
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid", "byokd hub: malformed request: "+err.Error())
		return false
	}
	return true
}
