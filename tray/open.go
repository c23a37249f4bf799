package tray

import (
	"fmt"
	"html"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"byokd.dev/byok/internal/privfile"
)

// LinkFile is the page, in the state folder, that OpenLink has the
// browser open.
const LinkFile = "open-link.html"

// OpenLink opens link, which carries a one-time code, in the default
// browser without putting the code on any command line (every local user
// can read those): it writes a page that forwards to link into dir (the
// member's state folder, 0700; the page 0600) and opens that page's file
// URL. The code in it works once and expires; the next OpenLink replaces
// the page.
func OpenLink(dir, link string) error {
	page := filepath.Join(dir, LinkFile)
	esc := html.EscapeString(link)
	body := `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<meta http-equiv="refresh" content="0; url=` + esc + `"><title>byokd</title>` +
		`<p>Opening byokd… <a href="` + esc + `">continue</a></p>`
	if err := privfile.Write(page, []byte(body)); err != nil {
		return err
	}
	return OpenBrowser((&url.URL{Scheme: "file", Path: filepath.ToSlash(page)}).String())
}

// OpenBrowser opens url in the default browser. url must hold no secret:
// it is on the opener's command line. An opener that fails within
// openerWait (no browser installed, or one that will not start) is an
// error that says what it said; one still running then has started a
// browser, which it may wait for.
func OpenBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	said := &tail{}
	cmd.Stdout, cmd.Stderr = said, said
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("no browser could be started (%w)", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			if msg := said.String(); msg != "" {
				return fmt.Errorf("no browser opened: %s (%s)", msg, err)
			}
			return fmt.Errorf("no browser opened (%s: %w)", filepath.Base(cmd.Path), err)
		}
		return nil
	case <-time.After(openerWait):
		return nil
	}
}

// openerWait is how long an opener has to fail before it is taken to
// have started a browser.
const openerWait = 3 * time.Second

// tail keeps the last line an opener printed, bounded.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
