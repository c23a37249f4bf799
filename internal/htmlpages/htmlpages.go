// Package htmlpages parses a web view's pages: each templates/NAME.html of
// an embedded file system together with templates/layout.html, which the
// byokd Credential Manager and the hub's web view both wrap their pages in.
package htmlpages

import (
	"html/template"
	"io/fs"
	"strings"
)

// Parse returns each page of files by NAME, parsed with the layout and
// funcs. It panics on a template error: the templates are embedded, so
// that is a build defect, found by any test that starts the pages.
func Parse(files fs.FS, funcs template.FuncMap) map[string]*template.Template {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base != "layout" {
			out[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(files, "templates/layout.html", n))
		}
	}
	return out
}
