package byok

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"gpt-4o":                        "gpt-4o",
		"gpt\x1b[2J\x1b]0;pwned\x07-4o": "gpt?[2J?]0;pwned?-4o",
		"a\r\nb\tc\u0085d":              "a??b?c?d",
		"caf\xe9":                       "caf\uFFFD",
		"héllo wörld":                   "héllo wörld",
	} {
		if got := CleanText(in, 100); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("é", 100) // 200 bytes
	if got := CleanText(long, 7); got != "ééé" || !utf8.ValidString(got) {
		t.Errorf("cut to 7 bytes: %q, want three whole characters", got)
	}
}
