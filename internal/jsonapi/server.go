package jsonapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/loopback"
)

// WriteError answers an error reply in the shape Client.Do reads.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{msg, code})
}

// Access is what a request may do, by the token it carries.
type Access int

// Accesses.
const (
	NoAccess Access = iota
	ReadAccess
	WriteAccess // reading too
)

// Server is a loopback JSON API: the loopback gate (Host, no browser),
// then a bearer token compared in constant time, then a body of at most
// MaxBody bytes, then the routes. Each route is registered as a read or a
// write: a read answers GET only and needs at least the read token, a
// write never answers GET and needs the full token, so no GET changes
// anything and a read-only token changes nothing.
type Server struct {
	gate    *loopback.Gate
	mux     *http.ServeMux
	handler http.Handler
	cfg     ServerConfig
}

// ServerConfig configures a Server.
type ServerConfig struct {
	Who  string // starts each refusal: "byokd", "byokd hub"
	Name string // "the control API", "the admin API"
	Port string
	// Token grants WriteAccess; ReadToken, if set, ReadAccess.
	Token, ReadToken byok.Secret
	WrongToken       string // the whole refusal for a missing or wrong token
	MaxBody          int64
	Logger           *slog.Logger
}

// NewServer returns a Server with no routes.
func NewServer(cfg ServerConfig) *Server {
	s := &Server{mux: http.NewServeMux(), cfg: cfg}
	s.gate = &loopback.Gate{Who: cfg.Who, Surface: cfg.Name, Port: cfg.Port, Logger: cfg.Logger,
		Headers: http.Header{"X-Content-Type-Options": {"nosniff"}, "Cache-Control": {"no-store"}},
		Deny: func(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
			WriteError(w, status, code, msg)
		}}
	s.handler = s.gate.Wrap(http.HandlerFunc(s.authorize))
	return s
}

type accessKey struct{}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	got, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok := byok.NewSecret(got)
	access := NoAccess
	switch {
	case !bearer || got == "":
	case s.cfg.Token.Equal(tok):
		access = WriteAccess
	case !s.cfg.ReadToken.IsZero() && s.cfg.ReadToken.Equal(tok):
		access = ReadAccess
	}
	if access == NoAccess {
		s.gate.Refuse(w, r, http.StatusUnauthorized, "unauthorized", s.cfg.WrongToken)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accessKey{}, access)))
}

// Read registers a route that only reads; pattern must be a GET.
func (s *Server) Read(pattern string, h http.HandlerFunc) {
	if !strings.HasPrefix(pattern, "GET ") {
		panic("jsonapi: a read route must be a GET: " + pattern)
	}
	s.mux.HandleFunc(pattern, s.need(ReadAccess, h))
}

// Write registers a route that changes something; pattern must name a
// method other than GET.
func (s *Server) Write(pattern string, h http.HandlerFunc) {
	m, _, ok := strings.Cut(pattern, " ")
	if !ok || m == http.MethodGet || m == http.MethodHead {
		panic("jsonapi: a write route needs a method other than GET: " + pattern)
	}
	s.mux.HandleFunc(pattern, s.need(WriteAccess, h))
}

func (s *Server) need(a Access, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if got, _ := r.Context().Value(accessKey{}).(Access); got < a {
			s.gate.Refuse(w, r, http.StatusForbidden, "read_only",
				s.cfg.Who+": this token may only read "+s.cfg.Name+"; use the full token to change anything")
			return
		}
		h(w, r)
	}
}

// ServeHTTP serves the routes behind the gate.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Refused is how many requests were refused, at the gate or for access.
func (s *Server) Refused() int64 { return s.gate.Refused() }
