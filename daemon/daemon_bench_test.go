//go:build unix

package daemon

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/keystore"
)

// BenchmarkDaemon drives the whole daemon in process — app-token check,
// routing, key from the file keystore, metering, the SQLite ledger with its
// group commit — through its loopback listener, so that a CPU profile shows
// where a call's time goes (`byokd run` serves no pprof):
//
//	go test -run '^$' -bench Daemon -benchmem -cpuprofile cpu.prof ./daemon/
//	go tool pprof -top cpu.prof
func BenchmarkDaemon(b *testing.B) {
	const usage = `{"prompt_tokens":162,"completion_tokens":45,"total_tokens":207,"prompt_tokens_details":{"cached_tokens":30}}`
	jsonReply := `{"id":"chatcmpl-b","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, a short benchmark answer."},"finish_reason":"stop"}],"usage":` + usage + `}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(jsonReply)))
			io.WriteString(w, jsonReply)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for range 8 {
			io.WriteString(w, `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}],"usage":null}`+"\n\n")
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":`+usage+"}\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)

	ctx, cancel := context.WithCancel(context.Background())
	home := b.TempDir() + "/home"
	d, err := Start(ctx, Config{
		Home:      home,
		Listen:    "127.0.0.1:0",
		Upstreams: map[byok.Service]*url.URL{byok.OpenAI: upURL},
		Keystore: keystore.Config{Backend: "file", Passphrase: func() ([]byte, error) {
			return []byte("bench-passphrase"), nil
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	c, err := control.Dial(home)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.AddKey(ctx, control.AddKey{Service: byok.OpenAI, Name: "bench", Secret: "sk-bench-0123456789abcdef"}); err != nil {
		b.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, control.NewToken{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	target := "http://" + d.ProxyAddr() + "/openai/v1/chat/completions"
	jsonBody := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	for _, s := range []struct {
		name, body string
		callers    int // 0: 32 callers in parallel; 1: one after the other
	}{
		{"json", jsonBody, 0},
		{"sse", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, 0},
		{"json-1conn", jsonBody, 1},
	} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			before := d.db.Stats()
			cpu0 := processCPU()
			call := func() bool {
				req, _ := http.NewRequest("POST", target, strings.NewReader(s.body))
				req.Header.Set("Authorization", "Bearer "+tok.Value)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return false
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					b.Errorf("status %d: %v", resp.StatusCode, err)
					return false
				}
				return true
			}
			if s.callers == 1 {
				for b.Loop() {
					if !call() {
						return
					}
				}
			} else {
				b.SetParallelism(16) // 32 callers on two cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() && call() {
					}
				})
			}
			// CPU per call, of the whole process (client and upstream
			// included): wall time per call on two shared cores says
			// little, and the ledger's group commit trades the one for
			// the other.
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			after := d.db.Stats()
			if c := after.Commits - before.Commits; c > 0 {
				b.ReportMetric(float64(after.Rows-before.Rows)/float64(c), "rows/commit")
			}
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
