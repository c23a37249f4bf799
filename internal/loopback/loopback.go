// Package loopback is the one gate in front of every surface byokd serves
// on loopback — the proxy, the control API, the Credential Manager page,
// the hub's admin API and, when it listens on loopback, the hub itself —
// in the order tailscale's localapi and syncthing's GUI use: security
// headers on every answer; a Host that names loopback with our port (DNS
// rebinding); the browser rule (a program's API refuses anything a web
// page sent, a page refuses cross-origin requests that change state); then
// the routes. Every refusal is counted and logged.
package loopback

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// Host reports whether host (a request's Host header) names this
// machine's loopback with port. A page that rebinds its own name to
// 127.0.0.1 still sends that name, so this check defeats DNS rebinding.
func Host(host, port string) bool {
	hn, p, err := net.SplitHostPort(host)
	if err != nil || p != port {
		return false
	}
	ip := net.ParseIP(hn)
	return strings.EqualFold(hn, "localhost") || (ip != nil && ip.IsLoopback())
}

// FromBrowser reports whether r carries a browser's Origin or Referer or
// says it is a cross-site fetch. SDKs, CLIs and editors send none of them;
// a web page always sends Origin on the requests that could do harm
// (cross-origin fetches, form posts, CORS preflights).
func FromBrowser(r *http.Request) bool {
	return r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" ||
		r.Header.Get("Sec-Fetch-Site") == "cross-site"
}

// DenyFunc writes a refusal in a surface's own shape: the provider's error
// JSON for the proxy, the API's error JSON, a plain page.
type DenyFunc func(w http.ResponseWriter, r *http.Request, status int, code, msg string)

// Gate guards one surface. Set the fields before first use; a Gate is then
// safe for concurrent use.
type Gate struct {
	// Who starts every refusal: "byokd", "byokd hub".
	Who string
	// Surface names what is guarded, for messages and logs: "the proxy",
	// "the control API", "the Credential Manager".
	Surface string
	// Port is the port Host must name. Empty skips the Host check (a hub
	// serving the network).
	Port string
	// AlsoHost is one more Host to answer, exactly: the name a proxy in
	// front forwards (a hub on loopback behind a reverse proxy or load
	// balancer on the same machine). Its owner chose it, so a rebound
	// name still is not it.
	AlsoHost string
	// Browser decides about requests a browser may have sent: nil refuses
	// every one (FromBrowser), for surfaces that serve programs only;
	// otherwise it returns a non-empty reason to refuse.
	Browser func(r *http.Request) string
	// Headers are set on every answer, refusals included.
	Headers http.Header
	Deny    DenyFunc
	Logger  *slog.Logger

	refused atomic.Int64
}

// Wrap returns next behind the gate.
func (g *Gate) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range g.Headers {
			h[k] = v
		}
		if g.Port != "" && !Host(r.Host, g.Port) && (g.AlsoHost == "" || !strings.EqualFold(r.Host, g.AlsoHost)) {
			g.Refuse(w, r, http.StatusForbidden, "forbidden_host",
				g.Who+": refused a request for host "+quote(r.Host)+": "+g.Surface+" answers only on 127.0.0.1:"+g.Port+" or localhost:"+g.Port)
			return
		}
		if g.Browser == nil {
			if FromBrowser(r) {
				g.Refuse(w, r, http.StatusForbidden, "browser_origin",
					g.Who+": refused a request from a web page: "+g.Surface+" serves local programs only")
				return
			}
		} else if why := g.Browser(r); why != "" {
			g.Refuse(w, r, http.StatusForbidden, "cross_origin", g.Who+": "+why)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Refuse counts, logs and writes a refusal; handlers behind the gate use
// it for their own (a missing token), so that one count holds them all.
func (g *Gate) Refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	g.Count(r, code)
	g.Deny(w, r, status, code, msg)
}

// Count counts and logs a refusal the caller answers itself.
func (g *Gate) Count(r *http.Request, code string) {
	g.refused.Add(1)
	if g.Logger != nil {
		g.Logger.Warn("request refused", "surface", g.Surface, "code", code, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	}
}

// Refused is how many requests the gate and its handlers have refused.
func (g *Gate) Refused() int64 { return g.refused.Load() }

// quote quotes a Host header for a message, bounded: it is the client's.
func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, s) + `"`
}
