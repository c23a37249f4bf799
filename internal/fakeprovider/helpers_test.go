package fakeprovider

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// call sends one request and returns the response with its whole body.
func call(t *testing.T, method, url string, header map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, url, err)
	}
	return resp, b
}

// event is one parsed server-sent event.
type event struct {
	Name string // "" when the event had no event: line
	Data string
}

// parseSSE splits a stream into events, failing on anything that is not
// a well-formed event block.
func parseSSE(t *testing.T, body []byte) []event {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\n\n")) {
		t.Fatalf("stream does not end with a blank line: %q", tail(body))
	}
	var out []event
	for _, block := range strings.Split(strings.TrimSuffix(string(body), "\n\n"), "\n\n") {
		var e event
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				e.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				e.Data = strings.TrimPrefix(line, "data: ")
			default:
				t.Fatalf("unexpected line %q in event block %q", line, block)
			}
		}
		out = append(out, e)
	}
	return out
}

func tail(b []byte) []byte {
	if len(b) > 80 {
		return b[len(b)-80:]
	}
	return b
}

// decode unmarshals JSON into a generic map, failing the test if it is not
// a JSON object.
func decode(t *testing.T, s []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(s, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, s)
	}
	return m
}

// num reads a JSON number at a path of keys.
func num(t *testing.T, m map[string]any, path ...string) int64 {
	t.Helper()
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v: %q is not inside an object", path, k)
		}
		v, ok = mm[k]
		if !ok {
			t.Fatalf("%v: no key %q", path, k)
		}
	}
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v: %v is not a number", path, v)
	}
	return int64(f)
}

func openaiAuth() map[string]string {
	return map[string]string{"Authorization": "Bearer sk-test-openai", "Content-Type": "application/json"}
}

func anthropicAuth() map[string]string {
	return map[string]string{"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "Content-Type": "application/json"}
}

func clickupAuth() map[string]string { return map[string]string{"Authorization": "pk_123_TEST"} }
