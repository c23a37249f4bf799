package jsonapi

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"byokd.dev/byok"
)

// LoopbackHost reports whether host (a request's Host header) names this
// machine's loopback with port: a page that rebinds its own name to
// 127.0.0.1 still sends that name, so this check defeats DNS rebinding.
func LoopbackHost(host, port string) bool {
	hn, p, err := net.SplitHostPort(host)
	if err != nil || p != port {
		return false
	}
	ip := net.ParseIP(hn)
	return strings.EqualFold(hn, "localhost") || (ip != nil && ip.IsLoopback())
}

// WriteError answers an error reply in the shape Client.Do reads.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{msg, code})
}

// Gate is the one check in front of a loopback API, in this order: Host
// must be loopback with Port (DNS rebinding); no browser Origin or Referer
// (a web page); the bearer token, compared in constant time; then a body
// of at most MaxBody bytes.
type Gate struct {
	Token      byok.Secret
	Port       string
	Who        string // starts each refusal: "byokd", "byokd hub"
	API        string // "control API", "admin API"
	WrongToken string // the whole refusal for a missing or wrong token
	MaxBody    int64
}

// Handler returns routes behind the gate.
func (g Gate) Handler(routes http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		if !LoopbackHost(r.Host, g.Port) {
			WriteError(w, http.StatusForbidden, "forbidden", g.Who+": refused: the "+g.API+" answers only on 127.0.0.1 or localhost")
			return
		}
		if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
			WriteError(w, http.StatusForbidden, "forbidden", g.Who+": refused a request from a web page")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !g.Token.Equal(byok.NewSecret(got)) {
			WriteError(w, http.StatusUnauthorized, "unauthorized", g.WrongToken)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, g.MaxBody)
		routes.ServeHTTP(w, r)
	})
}
