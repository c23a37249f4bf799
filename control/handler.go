package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/jsonapi"
	"byokd.dev/byok/metering"
)

// Backend is what the handler serves; the daemon implements it.
type Backend interface {
	Status(ctx context.Context) (Status, error)
	Keys(ctx context.Context) ([]Key, error)
	AddKey(ctx context.Context, k AddKey) (Key, error)
	RemoveKey(ctx context.Context, svc byok.Service, name string) error
	Tokens(ctx context.Context) ([]Token, error)
	CreateToken(ctx context.Context, t NewToken) (CreatedToken, error)
	RevokeToken(ctx context.Context, name string) error
	Usage(ctx context.Context, from, to time.Time) ([]byok.UsageEvent, error)
	Prefs(ctx context.Context) ([]Pref, error)
	SetPref(ctx context.Context, p Pref) error
	Approvals(ctx context.Context) ([]Approval, error)
	// JoinHub enrolls this daemon with a team hub and starts syncing.
	JoinHub(ctx context.Context, j Join) (HubStatus, error)
	Answer(ctx context.Context, id string, a Answer) error
	// Subscribe returns the event stream until ctx ends.
	Subscribe(ctx context.Context) (<-chan Event, error)
	// TestKey makes a cheap call to the provider with a personal key.
	TestKey(ctx context.Context, svc byok.Service, name string) (KeyTest, error)
	// LoginURL makes a one-time link to the Credential Manager page.
	LoginURL(ctx context.Context) (Login, error)
	// SetPaused pauses (calls get a 503) or resumes the proxy.
	SetPaused(ctx context.Context, paused bool) error
	// SetLedgerMode chooses between refusing calls and keeping working
	// without records when the ledger cannot be written.
	SetLedgerMode(ctx context.Context, m LedgerMode) error
	// HubLoginURL asks the joined team hub for a one-time link to its web
	// view, signed in as this member.
	HubLoginURL(ctx context.Context) (Login, error)
	// Prices lists the prices in force, each with where it came from.
	Prices(ctx context.Context) ([]metering.Listed, error)
}

// ErrInvalid marks a request the backend refused as malformed; its message
// reaches the user.
var ErrInvalid = errors.New("invalid request")

// maxRequest bounds control request bodies.
const maxRequest = 1 << 20

// Handler serves the control API.
type Handler struct {
	b   Backend
	log *slog.Logger
	api *jsonapi.Server
}

// NewHandler returns the API for b, accepting requests that name
// 127.0.0.1/localhost with port in Host and carry token (anything) or
// readToken (reads only; zero for none).
func NewHandler(b Backend, token, readToken byok.Secret, port string, log *slog.Logger) *Handler {
	h := &Handler{b: b, log: log.With("component", "control")}
	h.api = jsonapi.NewServer(jsonapi.ServerConfig{Who: "byokd", Name: "the control API", Port: port,
		Token: token, ReadToken: readToken, WrongToken: "byokd: missing or wrong control token",
		MaxBody: maxRequest, Logger: h.log})
	read, write := h.api.Read, h.api.Write
	read("GET /v1/status", query(h, h.b.Status))
	read("GET /v1/keys", query(h, h.b.Keys))
	write("POST /v1/keys", h.addKey)
	write("DELETE /v1/keys/{service}/{name}", h.removeKey)
	write("POST /v1/keys/{service}/{name}/test", h.testKey)
	read("GET /v1/tokens", query(h, h.b.Tokens))
	write("POST /v1/tokens", h.createToken)
	write("DELETE /v1/tokens/{name}", h.revokeToken)
	read("GET /v1/usage", h.usage)
	read("GET /v1/prefs", query(h, h.b.Prefs))
	read("GET /v1/prices", query(h, h.b.Prices))
	write("PUT /v1/prefs/{service}", h.setPref)
	read("GET /v1/approvals", h.approvals)
	write("POST /v1/approvals/{id}", h.answer)
	read("GET /v1/events", h.events)
	write("POST /v1/join", h.join)
	write("POST /v1/login", query(h, h.b.LoginURL))
	write("POST /v1/hub/login", query(h, h.b.HubLoginURL))
	write("PUT /v1/pause", h.pause)
	write("PUT /v1/ledger-mode", h.ledgerMode)
	return h
}

// ServeHTTP serves the routes behind the gate (jsonapi.Server): a loopback
// Host with our port, no browser Origin or Referer, a token that allows
// the route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.api.ServeHTTP(w, r) }

// Refused is how many requests the API refused.
func (h *Handler) Refused() int64 { return h.api.Refused() }

// query answers what get returns; a read or a write as registered.
func query[T any](h *Handler, get func(context.Context) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := get(r.Context())
		h.reply(w, v, err)
	}
}

func (h *Handler) addKey(w http.ResponseWriter, r *http.Request) {
	var req AddKey
	if !decode(w, r, &req) {
		return
	}
	k, err := h.b.AddKey(r.Context(), req)
	h.reply(w, k, err)
}

func (h *Handler) removeKey(w http.ResponseWriter, r *http.Request) {
	svc, err := byok.ParseService(r.PathValue("service"))
	if err == nil {
		err = h.b.RemoveKey(r.Context(), svc, r.PathValue("name"))
	}
	h.reply(w, struct{}{}, invalid(err))
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	var req NewToken
	if !decode(w, r, &req) {
		return
	}
	t, err := h.b.CreateToken(r.Context(), req)
	h.reply(w, t, err)
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	h.reply(w, struct{}{}, h.b.RevokeToken(r.Context(), r.PathValue("name")))
}

func (h *Handler) usage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err := errors.Join(err1, err2); err != nil {
		jsonapi.WriteError(w, http.StatusBadRequest, "invalid", "byokd: from and to must be RFC 3339 times")
		return
	}
	ev, err := h.b.Usage(r.Context(), from, to)
	if ev == nil {
		ev = []byok.UsageEvent{}
	}
	h.reply(w, ev, err)
}

func (h *Handler) setPref(w http.ResponseWriter, r *http.Request) {
	var req Pref
	if !decode(w, r, &req) {
		return
	}
	svc, err := byok.ParseService(r.PathValue("service"))
	if err == nil {
		req.Service = svc
		err = h.b.SetPref(r.Context(), req)
	}
	h.reply(w, struct{}{}, invalid(err))
}

// invalid marks parse errors of path values as the caller's mistake.
func invalid(err error) error {
	if err != nil && !errors.Is(err, byok.ErrNotFound) && !errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "unknown service") {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return err
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		jsonapi.WriteError(w, http.StatusBadRequest, "invalid", "byokd: malformed request: "+err.Error())
		return false
	}
	return true
}

func (h *Handler) reply(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	case errors.Is(err, byok.ErrNotFound):
		jsonapi.WriteError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, byok.ErrExists):
		jsonapi.WriteError(w, http.StatusConflict, "exists", err.Error())
	case errors.Is(err, ErrInvalid):
		jsonapi.WriteError(w, http.StatusBadRequest, "invalid", err.Error())
	case errors.Is(err, byok.ErrLocked):
		jsonapi.WriteError(w, http.StatusServiceUnavailable, "locked", err.Error())
	default:
		h.log.Error("control request failed", "err", err)
		jsonapi.WriteError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

func (h *Handler) approvals(w http.ResponseWriter, r *http.Request) {
	a, err := h.b.Approvals(r.Context())
	if a == nil {
		a = []Approval{}
	}
	h.reply(w, a, err)
}

func (h *Handler) answer(w http.ResponseWriter, r *http.Request) {
	var a Answer
	if !decode(w, r, &a) {
		return
	}
	h.reply(w, struct{}{}, h.b.Answer(r.Context(), r.PathValue("id"), a))
}

// events streams newline-delimited JSON until the client goes away.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	ch, err := h.b.Subscribe(r.Context())
	if err != nil {
		h.reply(w, nil, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for ev := range ch {
		if enc.Encode(ev) != nil || rc.Flush() != nil {
			return
		}
	}
}

func (h *Handler) testKey(w http.ResponseWriter, r *http.Request) {
	svc, err := byok.ParseService(r.PathValue("service"))
	var res KeyTest
	if err == nil {
		res, err = h.b.TestKey(r.Context(), svc, r.PathValue("name"))
	}
	h.reply(w, res, invalid(err))
}

func (h *Handler) ledgerMode(w http.ResponseWriter, r *http.Request) {
	var m LedgerMode
	if !decode(w, r, &m) {
		return
	}
	h.reply(w, m, h.b.SetLedgerMode(r.Context(), m))
}

func (h *Handler) pause(w http.ResponseWriter, r *http.Request) {
	var p Pause
	if !decode(w, r, &p) {
		return
	}
	h.reply(w, p, h.b.SetPaused(r.Context(), p.Paused))
}

func (h *Handler) join(w http.ResponseWriter, r *http.Request) {
	var j Join
	if !decode(w, r, &j) {
		return
	}
	st, err := h.b.JoinHub(r.Context(), j)
	h.reply(w, st, err)
}
