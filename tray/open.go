package tray

import (
	"html"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"

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
// it is on the opener's command line.
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
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() //nolint:errcheck // the browser outlives the tray's interest
	return nil
}
