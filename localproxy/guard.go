package localproxy

import (
	"net/http"
	"strings"

	"byokd.dev/byok"
)

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
