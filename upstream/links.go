package upstream

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"byokd.dev/byok"
)

// An Anthropic message batch names the URL of its results on the
// provider's host, and the official SDK fetches that URL as given: around
// byokd, with the app's token instead of the key, unmetered. Answers that
// carry batches are rewritten to name the same results through byokd.

// maxLinkBody is the largest batch answer rewritten (a list of 1,000
// batches is about 600 KiB); a larger one passes unchanged.
const maxLinkBody = 4 << 20

var resultsURL = regexp.MustCompile(`"results_url"(\s*):(\s*)"[^"]*/v1/messages/batches/([A-Za-z0-9_-]+)/results"`)

// hasBatchLinks reports whether the answer to method path of svc may name
// batch results: Anthropic's create, retrieve, list and cancel.
func hasBatchLinks(svc byok.Service, path string) bool {
	return svc == byok.Anthropic && (path == "/v1/messages/batches" || strings.HasPrefix(path, "/v1/messages/batches/")) &&
		!strings.HasSuffix(path, "/results")
}

// pointLinksHere rewrites each results_url of a JSON answer to base (the
// service's URL as the client reached it, "http://127.0.0.1:8787/anthropic").
func pointLinksHere(resp *http.Response, base string) error {
	if resp.StatusCode != http.StatusOK || resp.ContentLength > maxLinkBody {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLinkBody+1))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if len(body) <= maxLinkBody {
		body = resultsURL.ReplaceAll(body, []byte(`"results_url"$1:$2"`+base+`/v1/messages/batches/$3/results"`))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
