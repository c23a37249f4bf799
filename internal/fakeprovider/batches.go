package fakeprovider

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// BatchServed is how many requests of a fake batch were served (and
// billed): each reports the server's usage. One more request failed.
const BatchServed = 2

// openaiFileContent answers GET /v1/files/{id}/content as for a batch's
// output file: JSON Lines, one answer per line, BatchServed of them
// served by gpt-4o-mini and one refused with a 400.
func (s *Server) openaiFileContent(w http.ResponseWriter, r *http.Request, _ []byte) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range BatchServed + 1 {
		id := s.id("batch_req_")
		line := map[string]any{"id": id, "custom_id": "request-" + string(rune('1'+i)), "error": nil}
		if i == BatchServed {
			line["response"] = map[string]any{"status_code": 400, "request_id": s.id("req_"),
				"body": map[string]any{"error": map[string]any{"message": "Invalid 'messages': empty array.", "type": "invalid_request_error"}}}
		} else {
			line["response"] = map[string]any{"status_code": 200, "request_id": s.id("req_"), "body": map[string]any{
				"id": s.id("chatcmpl-"), "object": "chat.completion", "created": s.opts.Now().Unix(), "model": "gpt-4o-mini-2024-07-18",
				"choices": []map[string]any{{"index": 0, "message": map[string]string{"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}},
				"usage":   s.chatUsage(),
			}}
		}
		enc.Encode(line)
	}
	s.openaiHeaders(w)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b.Bytes())
}

// anthropicBatchResults answers GET /v1/messages/batches/{id}/results:
// JSON Lines, BatchServed messages that succeeded and one that errored.
func (s *Server) anthropicBatchResults(w http.ResponseWriter, r *http.Request, _ []byte) {
	if !s.checkAnthropicVersion(w, r) {
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range BatchServed + 1 {
		custom := "request-" + string(rune('1'+i))
		if i == BatchServed {
			enc.Encode(map[string]any{"custom_id": custom, "result": map[string]any{"type": "errored",
				"error": map[string]any{"type": "error", "error": map[string]string{"type": "invalid_request_error", "message": "messages: at least one message is required"}}}})
			continue
		}
		u := s.anthropicUsage()
		u.ServiceTier = "batch"
		stop := "end_turn"
		enc.Encode(map[string]any{"custom_id": custom, "result": map[string]any{"type": "succeeded", "message": anthropicMessage{
			ID: s.id("msg_"), Type: "message", Role: "assistant", Model: "claude-haiku-4-5-20251001",
			Content: []textBlock{{Type: "text", Text: "Hello."}}, StopReason: &stop, Usage: u,
		}}})
	}
	s.anthropicHeaders(w)
	w.Header().Set("Content-Type", "application/binary")
	w.Write(b.Bytes())
}

// isBatchPath reports whether p is /v1/{prefix}/{id}/{suffix}.
func isBatchPath(p, prefix, suffix string) bool {
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok {
		return false
	}
	id, ok := strings.CutSuffix(rest, suffix)
	return ok && id != "" && !strings.Contains(id, "/")
}

// anthropicBatch answers GET /v1/messages/batches/{id} for a batch that
// has ended. Like the API it names its results on the provider's own
// host, whatever URL the request came to.
func (s *Server) anthropicBatch(w http.ResponseWriter, r *http.Request, _ []byte) {
	if !s.checkAnthropicVersion(w, r) {
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/v1/messages/batches/")
	now := s.opts.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	s.anthropicHeaders(w)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "type": "message_batch", "processing_status": "ended",
		"request_counts": map[string]int{"processing": 0, "succeeded": BatchServed, "errored": 1, "canceled": 0, "expired": 0},
		"ended_at":       now, "created_at": now, "expires_at": now, "archived_at": nil, "cancel_initiated_at": nil,
		"results_url": "https://api.anthropic.com/v1/messages/batches/" + id + "/results",
	})
}
