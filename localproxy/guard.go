package localproxy

import (
	"net"
	"net/http"
	"strings"

	"byokd.dev/byok"
)

// hostAllowed reports whether host (the request's Host header) names this
// proxy by a loopback name or address and the right port. Anything else may
// be a DNS-rebinding page whose own host name resolves to 127.0.0.1.
func hostAllowed(host, port string) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil || p != port {
		return false
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// fromBrowser reports whether the request carries a browser's Origin or
// Referer. SDKs, CLIs and editors send neither; a web page always sends
// Origin on the requests that could do harm (cross-origin fetch, form posts,
// CORS preflights), so such requests are refused before any key is read.
func fromBrowser(r *http.Request) bool {
	return r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" ||
		r.Header.Get("Sec-Fetch-Site") == "cross-site"
}

// appToken extracts the local app token from where svc's SDKs put their key.
// Several conflicting values are refused rather than guessed between.
func appToken(svc byok.Service, h http.Header) (string, bool) {
	var found []string
	for _, v := range h.Values("Authorization") {
		v = strings.TrimSpace(v)
		if t, ok := cutBearer(v); ok {
			v = t
		} else if svc != byok.ClickUp {
			// Only ClickUp's personal tokens come without "Bearer".
			return "", false
		}
		found = append(found, v)
	}
	if svc == byok.Anthropic {
		for _, v := range h.Values("X-Api-Key") {
			found = append(found, strings.TrimSpace(v))
		}
	}
	if len(found) == 0 || found[0] == "" {
		return "", false
	}
	for _, v := range found[1:] {
		if v != found[0] {
			return "", false
		}
	}
	return found[0], true
}

func cutBearer(v string) (string, bool) {
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:]), true
	}
	return "", false
}
