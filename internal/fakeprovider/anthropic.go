package fakeprovider

import (
	"encoding/json"
	"net/http"
	"time"
)

type anthropicErrorObject struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type anthropicErrorResponse struct {
	Type      string               `json:"type"`
	Error     anthropicErrorObject `json:"error"`
	RequestID string               `json:"request_id"`
}

func anthropicErrorBody(typ, msg, reqID string) anthropicErrorResponse {
	return anthropicErrorResponse{Type: "error", Error: anthropicErrorObject{Type: typ, Message: msg}, RequestID: reqID}
}

func (s *Server) anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	id := s.id("req_")
	w.Header().Set("Request-Id", id)
	w.Header().Set("X-Should-Retry", "false")
	writeJSON(w, status, anthropicErrorBody(typ, msg, id))
}

// anthropicHeaders are the headers Anthropic sends on a successful reply.
func (s *Server) anthropicHeaders(w http.ResponseWriter) {
	h := w.Header()
	reset := s.opts.Now().UTC().Add(time.Minute).Format(time.RFC3339)
	h.Set("Request-Id", s.id("req_"))
	h.Set("Anthropic-Organization-Id", "00000000-0000-4000-8000-00000000fa4e")
	for _, kind := range []string{"requests", "input-tokens", "output-tokens", "tokens"} {
		h.Set("Anthropic-Ratelimit-"+kind+"-Limit", "4000")
		h.Set("Anthropic-Ratelimit-"+kind+"-Remaining", "3999")
		h.Set("Anthropic-Ratelimit-"+kind+"-Reset", reset)
	}
}

// checkAnthropicVersion answers 400 as the real API does when the
// anthropic-version header is missing, and reports whether it was there.
func (s *Server) checkAnthropicVersion(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("anthropic-version") != "" {
		return true
	}
	s.anthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
	return false
}

type cacheCreation struct {
	Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
}

// anthropicUsage is a Message's usage. input_tokens excludes cache reads
// and writes; cache_creation splits the writes by TTL.
type anthropicUsage struct {
	InputTokens              int64         `json:"input_tokens"`
	CacheCreationInputTokens int64         `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64         `json:"cache_read_input_tokens"`
	CacheCreation            cacheCreation `json:"cache_creation"`
	OutputTokens             int64         `json:"output_tokens"`
	ServiceTier              string        `json:"service_tier"`
}

// deltaUsage is message_delta's usage: cumulative totals for the message.
type deltaUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

func (s *Server) anthropicUsage() anthropicUsage {
	u := s.opts.Usage
	return anthropicUsage{
		InputTokens:              u.InputTokens,
		CacheCreationInputTokens: u.CacheWriteTokens(),
		CacheReadInputTokens:     u.CacheReadTokens,
		CacheCreation:            cacheCreation{Ephemeral5m: u.CacheWrite5mTokens, Ephemeral1h: u.CacheWrite1hTokens},
		OutputTokens:             u.OutputTokens,
		ServiceTier:              "standard",
	}
}

type textBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicMessage struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []textBlock    `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        anthropicUsage `json:"usage"`
}

type messagesRequest struct {
	Model     string          `json:"model"`
	MaxTokens *int            `json:"max_tokens"`
	Messages  json.RawMessage `json:"messages"`
	Stream    bool            `json:"stream"`
}

func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request, body []byte) {
	if !s.checkAnthropicVersion(w, r) {
		return
	}
	var req messagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.anthropicError(w, http.StatusBadRequest, "invalid_request_error", "There was an issue with the JSON body of your request.")
		return
	}
	switch {
	case req.Model == "":
		s.anthropicError(w, http.StatusBadRequest, "invalid_request_error", "model: Field required")
		return
	case req.MaxTokens == nil:
		s.anthropicError(w, http.StatusBadRequest, "invalid_request_error", "max_tokens: Field required")
		return
	case len(req.Messages) == 0:
		s.anthropicError(w, http.StatusBadRequest, "invalid_request_error", "messages: Field required")
		return
	}
	s.anthropicHeaders(w)
	endTurn := "end_turn"
	msg := anthropicMessage{
		ID: s.id("msg_"), Type: "message", Role: "assistant", Model: req.Model,
		Content: []textBlock{{Type: "text", Text: s.Text()}}, StopReason: &endTurn, Usage: s.anthropicUsage(),
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, msg)
		return
	}

	start := msg
	start.Content, start.StopReason = []textBlock{}, nil
	start.Usage.OutputTokens = min(1, msg.Usage.OutputTokens)
	u := msg.Usage
	stream := startSSE(w, r, s.opts.ChunkDelay, nil)
	ok := stream.event("message_start", map[string]any{"type": "message_start", "message": start}) &&
		stream.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": textBlock{Type: "text", Text: ""}}) &&
		stream.event("ping", map[string]any{"type": "ping"})
	for _, p := range s.pieces() {
		ok = ok && stream.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": p}})
	}
	ok = ok && stream.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}) &&
		stream.event("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": endTurn, "stop_sequence": nil},
			"usage": deltaUsage{InputTokens: u.InputTokens, CacheCreationInputTokens: u.CacheCreationInputTokens,
				CacheReadInputTokens: u.CacheReadInputTokens, OutputTokens: u.OutputTokens}})
	if ok {
		stream.event("message_stop", map[string]any{"type": "message_stop"})
	}
}

func (s *Server) anthropicCountTokens(w http.ResponseWriter, r *http.Request, body []byte) {
	if !s.checkAnthropicVersion(w, r) {
		return
	}
	var req messagesRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" {
		s.anthropicError(w, http.StatusBadRequest, "invalid_request_error", "model: Field required")
		return
	}
	u := s.opts.Usage
	s.anthropicHeaders(w)
	writeJSON(w, http.StatusOK, map[string]int64{"input_tokens": u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens()})
}

// AnthropicModels are the models GET /v1/models lists.
func AnthropicModels() []string {
	return []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"}
}

func (s *Server) anthropicModels(w http.ResponseWriter, r *http.Request, _ []byte) {
	if !s.checkAnthropicVersion(w, r) {
		return
	}
	type model struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
		CreatedAt   string `json:"created_at"`
	}
	names := AnthropicModels()
	list := struct {
		Data    []model `json:"data"`
		HasMore bool    `json:"has_more"`
		FirstID string  `json:"first_id"`
		LastID  string  `json:"last_id"`
	}{FirstID: names[0], LastID: names[len(names)-1]}
	for _, n := range names {
		list.Data = append(list.Data, model{Type: "model", ID: n, DisplayName: n, CreatedAt: "2025-09-29T00:00:00Z"})
	}
	s.anthropicHeaders(w)
	writeJSON(w, http.StatusOK, list)
}
