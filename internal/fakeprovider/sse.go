package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// sse writes server-sent events, flushing each one and pausing between
// them. A write error or the client going away stops the stream: every
// method then returns false.
type sse struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	r     *http.Request
	delay time.Duration
	n     int
}

// startSSE sends the stream's status line and headers.
func startSSE(w http.ResponseWriter, r *http.Request, delay time.Duration, h map[string]string) *sse {
	for k, v := range h {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w), r: r, delay: delay}
	s.rc.Flush()
	return s
}

// event sends one event. name may be empty (OpenAI's chat stream has none).
// data is marshalled to JSON unless it is a string, which is sent as is.
func (s *sse) event(name string, data any) bool {
	if s.n > 0 && s.delay > 0 {
		t := time.NewTimer(s.delay)
		select {
		case <-t.C:
		case <-s.r.Context().Done():
			t.Stop()
			return false
		}
	}
	s.n++
	var payload []byte
	if str, ok := data.(string); ok {
		payload = []byte(str)
	} else {
		payload = mustJSON(data)
	}
	var err error
	if name != "" {
		_, err = fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, payload)
	} else {
		_, err = fmt.Fprintf(s.w, "data: %s\n\n", payload)
	}
	if err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

// mustJSON marshals values built by this package, which always marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fakeprovider: marshal %T: %v", v, err))
	}
	return b
}
