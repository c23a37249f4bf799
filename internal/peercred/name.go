package peercred

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// interpreters run a script: the script names the program.
var interpreters = map[string]bool{
	"python": true, "python3": true, "node": true, "deno": true, "bun": true, "ruby": true,
	"perl": true, "php": true, "bash": true, "sh": true, "zsh": true, "java": true,
}

// Name names a program by its command line: the executable's base name,
// and for an interpreter also its script's ("python3 my_script.py"),
// never the other arguments (they may hold anything).
func Name(argv []string) string {
	if len(argv) == 0 || argv[0] == "" {
		return ""
	}
	exe := filepath.Base(argv[0])
	if !interpreters[strings.TrimRight(exe, "0123456789.")] && !interpreters[exe] {
		return exe
	}
	for _, a := range argv[1:] {
		if a == "" || strings.HasPrefix(a, "-") {
			if a == "-m" || a == "-c" || a == "-e" {
				break // a module or inline code: no script file
			}
			continue
		}
		return exe + " " + filepath.Base(a)
	}
	return exe
}

// Project names the git repository holding dir: its origin remote's
// repository name, else the name of its top folder; "" outside one.
func Project(dir string) string {
	for d := dir; d != "" && d != "/" && d != "."; d = filepath.Dir(d) {
		git := filepath.Join(d, ".git")
		st, err := os.Stat(git)
		if err != nil {
			continue
		}
		if st.IsDir() {
			if name := originName(filepath.Join(git, "config")); name != "" {
				return name
			}
		}
		return filepath.Base(d)
	}
	return ""
}

// originName is the repository name of the origin remote's url in a git
// config file ("git@host:team/acme-site.git" → "acme-site").
func originName(config string) string {
	f, err := os.Open(config)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			in = line == `[remote "origin"]`
			continue
		}
		if k, v, ok := strings.Cut(line, "="); in && ok && strings.TrimSpace(k) == "url" {
			v = strings.TrimSuffix(strings.TrimRight(strings.TrimSpace(v), "/"), ".git")
			if i := strings.LastIndexAny(v, "/:"); i >= 0 {
				v = v[i+1:]
			}
			return v
		}
	}
	return ""
}
