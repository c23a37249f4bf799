package upstream

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"byokd.dev/byok"
)

// Every results_url of a batch answer — one batch, or a list, compact or
// indented — names the results through byokd; nothing else changes.
func TestPointLinksHere(t *testing.T) {
	list := `{
  "data": [
    {"id": "msgbatch_01", "type": "message_batch", "results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_01/results"},
    {"id": "msgbatch_02", "type": "message_batch", "results_url" : null},
    {"id": "msgbatch_03", "type": "message_batch","results_url":"https://gateway.example/anthropic/v1/messages/batches/msgbatch_03/results"}
  ],
  "has_more": false, "first_id": "msgbatch_01", "last_id": "msgbatch_03"
}`
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Length": {"1"}}, Body: io.NopCloser(strings.NewReader(list)), ContentLength: int64(len(list))}
	if err := pointLinksHere(resp, "http://127.0.0.1:8787/anthropic"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	want := strings.NewReplacer(
		"https://api.anthropic.com/v1", "http://127.0.0.1:8787/anthropic/v1",
		"https://gateway.example/anthropic/v1", "http://127.0.0.1:8787/anthropic/v1").Replace(list)
	if string(b) != want {
		t.Errorf("rewritten:\n%s\nwant:\n%s", b, want)
	}
	if resp.ContentLength != int64(len(b)) || resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
		t.Errorf("length %d / %q, body %d", resp.ContentLength, resp.Header.Get("Content-Length"), len(b))
	}
	for path, want := range map[string]bool{
		"/v1/messages/batches": true, "/v1/messages/batches/msgbatch_01": true, "/v1/messages/batches/msgbatch_01/cancel": true,
		"/v1/messages/batches/msgbatch_01/results": false, "/v1/messages": false,
	} {
		if got := hasBatchLinks(byok.Anthropic, path); got != want {
			t.Errorf("hasBatchLinks(%s) = %v", path, got)
		}
	}
}
