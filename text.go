package byok

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText makes text that came from outside — a model name in a
// provider's answer, an app header, a hub's reason — safe to keep and to
// show: valid UTF-8, no control characters (a terminal would obey them),
// at most max bytes (cut at a character boundary).
func CleanText(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return '?'
			}
			return r
		}, s)
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
