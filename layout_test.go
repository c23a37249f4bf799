package byok_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// pkg is what go list says of a package.
type pkg struct {
	ImportPath string
	Doc        string
	Standard   bool
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
}

// list runs go list -deps -json on patterns and returns every package it
// names, by import path.
func list(t *testing.T, patterns ...string) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Doc,Standard,Imports,Deps,Module"}, patterns...)...)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go list %v: %v\n%s", patterns, err, ee.Stderr)
	} else if err != nil {
		t.Fatalf("go list %v: %v", patterns, err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

const module = "byokd.dev/byok"

// TestLayout_Arrows pins the package graph's arrows: the domain types
// depend on nothing; the desktop fronts reach the daemon only through
// its control API; the command does not link what only builds packages.
func TestLayout_Arrows(t *testing.T) {
	pkgs := list(t, "./...")
	root := pkgs[module]
	for _, imp := range root.Imports {
		if std := list(t, imp)[imp]; !std.Standard {
			t.Errorf("package byok imports %s: the root holds domain types and imports only the standard library", imp)
		}
	}
	for _, front := range []string{"tray", "webui", "notify"} {
		p := pkgs[module+"/"+front]
		for _, banned := range []string{"ledger", "localproxy", "keystore", "upstream", "daemon"} {
			if slices.Contains(p.Deps, module+"/"+banned) {
				t.Errorf("package %s depends on %s: a desktop front reaches the daemon only through its control API", front, banned)
			}
		}
	}
	for _, p := range []string{"localproxy", "hub"} {
		other := map[string]string{"localproxy": "hub", "hub": "localproxy"}[p]
		if slices.Contains(pkgs[module+"/"+p].Deps, module+"/"+other) {
			t.Errorf("package %s depends on %s: the proxy and the relay share package upstream, not each other", p, other)
		}
	}
	cmd := pkgs[module+"/cmd/byokd"]
	for _, d := range cmd.Deps {
		for _, banned := range []string{module + "/packaging", "github.com/goreleaser/nfpm", "github.com/go-git/", "github.com/ProtonMail/go-crypto"} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("the byokd command links %s: only the release build (packaging) needs it", d)
			}
		}
	}
}

// TestLayout_DocComments: every package says what it is for.
func TestLayout_DocComments(t *testing.T) {
	for path, p := range list(t, "./...") {
		if !strings.HasPrefix(path, module) {
			continue
		}
		name := path[strings.LastIndex(path, "/")+1:]
		if path == module {
			name = "byok"
		}
		if !strings.HasPrefix(p.Doc, "Package "+name+" ") && !strings.HasPrefix(p.Doc, "Command ") {
			t.Errorf("%s has no package doc comment (\"Package %s …\" or \"Command …\"): %q", path, name, p.Doc)
		}
	}
}
