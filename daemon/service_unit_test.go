package daemon

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemdUnit(t *testing.T) {
	for _, c := range []struct {
		name, exe, home string
		want, notWant   []string
	}{
		{"plain", "/usr/bin/byokd", "/home/ann/.config/byokd",
			[]string{"ExecStart=/usr/bin/byokd run\n", "Environment=BYOKD_HOME=/home/ann/.config/byokd\n", "WantedBy=default.target\n", "TimeoutStopSec=45\n",
				"StartLimitBurst=5\n", "RestartPreventExitStatus=78\n", "NoNewPrivileges=yes\n"},
			[]string{"multi-user.target", "ConditionUser"}},
		{"package unit without home", "/usr/bin/byokd", "",
			[]string{"ExecStart=/usr/bin/byokd run\n", "ConditionUser=!@system\n"}, []string{"Environment="}},
		{"spaces and specifiers", "/opt/my apps/byokd", "/home/ann/my 100% state",
			[]string{`ExecStart="/opt/my apps/byokd" run` + "\n", `Environment="BYOKD_HOME=/home/ann/my 100%% state"` + "\n"}, nil},
		{"quote and dollar", "/opt/byokd", `/home/a"b$c`,
			[]string{`Environment="BYOKD_HOME=/home/a\"b$$c"` + "\n"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := SystemdUnit(c.exe, c.home)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("unit lacks %q; got:\n%s", w, got)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(got, w) {
					t.Errorf("unit has %q; got:\n%s", w, got)
				}
			}
		})
	}
}

func TestLaunchAgentPlist(t *testing.T) {
	p := LaunchAgentPlist("/Users/ann/bin/byokd", "/Users/ann/Library/Application Support/byokd & co", "/Users/ann/Library/Logs/byokd.log")
	// A well-formed property list whose strings round-trip.
	dec := xml.NewDecoder(strings.NewReader(p))
	dec.Strict = false // the DOCTYPE names an external DTD
	var strs []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plist is not XML: %v\n%s", err, p)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "string" {
			var s string
			if err := dec.DecodeElement(&s, &se); err != nil {
				t.Fatal(err)
			}
			strs = append(strs, s)
		}
	}
	want := []string{"byokd", "/Users/ann/bin/byokd", "run", "/Users/ann/Library/Application Support/byokd & co", "Interactive", "/Users/ann/Library/Logs/byokd.log", "/Users/ann/Library/Logs/byokd.log"}
	if strings.Join(strs, "|") != strings.Join(want, "|") {
		t.Errorf("plist strings = %q, want %q", strs, want)
	}
	if !strings.Contains(p, "<key>RunAtLoad</key>\n\t<true/>") {
		t.Errorf("plist does not run at load:\n%s", p)
	}
}

func TestRunKeyCommand(t *testing.T) {
	for _, c := range []struct{ exe, home, want string }{
		{`C:\Program Files\byokd\byokd.exe`, `C:\Users\ann\AppData\Roaming\byokd`,
			`"C:\Program Files\byokd\byokd.exe" service run --home "C:\Users\ann\AppData\Roaming\byokd"`},
		{`C:\b.exe`, `C:\dir with trailing slash\`, `"C:\b.exe" service run --home "C:\dir with trailing slash\\"`},
		{`C:\b.exe`, `C:\a"b`, `"C:\b.exe" service run --home "C:\a\"b"`},
	} {
		if got := RunKeyCommand(c.exe, c.home); got != c.want {
			t.Errorf("RunKeyCommand(%q, %q) = %s, want %s", c.exe, c.home, got, c.want)
		}
	}
}

func TestTailFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byokd.log")
	var b strings.Builder
	for i := range 10 {
		b.WriteString(strings.Repeat("x", i) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n    int
		want string
	}{
		{3, "xxxxxxx\nxxxxxxxx\nxxxxxxxxx\n"},
		{100, b.String()},
	} {
		var out bytes.Buffer
		if err := tailFile(path, c.n, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("tail %d = %q, want %q", c.n, out.String(), c.want)
		}
	}
	err := tailFile(filepath.Join(t.TempDir(), "none.log"), 5, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "byokd service status") {
		t.Errorf("missing log: %v, want an error that says what to check", err)
	}
}
