//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// upstream is a lean stand-in for POST /v1/chat/completions in OpenAI's
// format: a JSON completion, or an SSE stream of chunks ending with a usage
// chunk (when the request asks for it) and "data: [DONE]". It records
// nothing, so it costs every target the same and does not grow.
//
// The last message's content may carry directives, so that every proxy
// passes them on unchanged (some rewrite headers and unknown fields):
//
//	bench chunks=20 delay=50ms stamp hold=30s
//
// chunks is the number of content deltas (default 8); delay the pause
// between two events; stamp puts the send time (Unix nanoseconds) in each
// delta's content as "t=N" and in an SSE comment ": t=N" written together
// with [DONE]; hold pauses after the first event until the client goes away
// or the time is up.
type upstream struct{}

// directive is what a request's content asks of the upstream.
type directive struct {
	chunks int
	delay  time.Duration
	hold   time.Duration
	stamp  bool
}

func parseDirective(s string) directive {
	d := directive{chunks: 8}
	f := strings.Fields(s)
	if len(f) == 0 || f[0] != "bench" {
		return d
	}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "chunks":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 10000 {
				d.chunks = n
			}
		case "delay":
			d.delay, _ = time.ParseDuration(v)
		case "hold":
			d.hold, _ = time.ParseDuration(v)
		case "stamp":
			d.stamp = true
		}
	}
	return d
}

type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Content string `json:"content"`
	} `json:"messages"`
}

const (
	usageJSON = `{"prompt_tokens":162,"completion_tokens":45,"total_tokens":207,"prompt_tokens_details":{"cached_tokens":30,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`
	replyText = "Hello! This is a benchmark reply of about the length of a short answer."
)

func (upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		openaiError(w, http.StatusNotFound, "Invalid URL ("+r.Method+" "+r.URL.Path+")")
		return
	}
	if v := r.Header.Get("Authorization"); len(v) < 8 || !strings.EqualFold(v[:7], "bearer ") {
		openaiError(w, http.StatusUnauthorized, "You didn't provide an API key.")
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" {
		openaiError(w, http.StatusBadRequest, "We could not parse the JSON body of your request.")
		return
	}
	var d directive
	if n := len(req.Messages); n > 0 {
		d = parseDirective(req.Messages[n-1].Content)
	} else {
		d = parseDirective("")
	}
	model, _ := json.Marshal(req.Model)
	h := w.Header()
	h.Set("Openai-Organization", "org-bench")
	h.Set("Openai-Processing-Ms", "12")
	h.Set("Openai-Version", "2020-10-01")
	h.Set("X-Request-Id", "req_bench0000000000000000000000")
	h.Set("X-Ratelimit-Limit-Requests", "10000")
	h.Set("X-Ratelimit-Remaining-Requests", "9999")
	h.Set("X-Ratelimit-Limit-Tokens", "30000000")
	h.Set("X-Ratelimit-Remaining-Tokens", "29999990")
	if !req.Stream {
		b := make([]byte, 0, 768)
		b = append(b, `{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":`...)
		b = append(b, model...)
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":"`+replyText+`","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":`+usageJSON+`,"service_tier":"default","system_fingerprint":"fp_bench"}`...)
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
		return
	}
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	s := &stream{w: w, rc: http.NewResponseController(w), r: r, delay: d.delay}
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	nullUsage := ""
	if includeUsage {
		nullUsage = `,"usage":null`
	}
	head := `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":` + string(model) + `,"service_tier":"default","system_fingerprint":"fp_bench","choices":[`
	if !s.send([]byte(head + `{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]` + nullUsage + "}\n\n")) {
		return
	}
	if d.hold > 0 {
		t := time.NewTimer(d.hold)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	words := strings.Fields(replyText)
	buf := make([]byte, 0, 512)
	for i := range d.chunks {
		if !s.pause() {
			return
		}
		buf = append(buf[:0], head...)
		buf = append(buf, `{"index":0,"delta":{"content":"`...)
		if d.stamp {
			buf = append(buf, "t="...)
			buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
		} else {
			buf = append(buf, ' ')
			buf = append(buf, words[i%len(words)]...)
		}
		buf = append(buf, `"},"logprobs":null,"finish_reason":null}]`...)
		buf = append(buf, nullUsage...)
		buf = append(buf, "}\n\n"...)
		if !s.send(buf) {
			return
		}
	}
	if !s.pause() || !s.send([]byte(head+`{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]`+nullUsage+"}\n\n")) {
		return
	}
	if includeUsage {
		if !s.pause() || !s.send([]byte(head+`],"usage":`+usageJSON+"}\n\n")) {
			return
		}
	}
	if !s.pause() {
		return
	}
	buf = buf[:0]
	if d.stamp {
		buf = append(buf, ": t="...)
		buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
		buf = append(buf, "\n\n"...)
	}
	buf = append(buf, "data: [DONE]\n\n"...)
	s.send(buf)
}

// stream writes SSE events, flushing each one.
type stream struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	r     *http.Request
	delay time.Duration
}

// pause waits the delay between two events; false when the client left.
func (s *stream) pause() bool {
	if s.delay <= 0 {
		return true
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.r.Context().Done():
		return false
	}
}

func (s *stream) send(b []byte) bool {
	if _, err := s.w.Write(b); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

func openaiError(w http.ResponseWriter, status int, msg string) {
	m, _ := json.Marshal(msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(`{"error":{"message":` + string(m) + `,"type":"invalid_request_error","param":null,"code":null}}`))
}
