package fakeprovider

import (
	"encoding/json"
	"net/http"
)

type responsesRequest struct {
	Model        string  `json:"model"`
	Stream       bool    `json:"stream"`
	Instructions *string `json:"instructions"`
}

type outputText struct {
	Type        string   `json:"type"`
	Annotations []string `json:"annotations"`
	Logprobs    []string `json:"logprobs"`
	Text        string   `json:"text"`
}

type outputItem struct {
	ID      string       `json:"id"`
	Type    string       `json:"type"`
	Status  string       `json:"status"`
	Content []outputText `json:"content"`
	Role    string       `json:"role"`
}

// responseUsage is the Responses API's usage: input_tokens includes cached
// tokens and cache writes, as in chat completions.
type responseUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

type responseObject struct {
	ID                 string         `json:"id"`
	Object             string         `json:"object"`
	CreatedAt          int64          `json:"created_at"`
	Status             string         `json:"status"`
	Background         bool           `json:"background"`
	Error              *struct{}      `json:"error"`
	IncompleteDetails  *struct{}      `json:"incomplete_details"`
	Instructions       *string        `json:"instructions"`
	MaxOutputTokens    *int           `json:"max_output_tokens"`
	Model              string         `json:"model"`
	Output             []outputItem   `json:"output"`
	ParallelToolCalls  bool           `json:"parallel_tool_calls"`
	PreviousResponseID *string        `json:"previous_response_id"`
	Reasoning          map[string]any `json:"reasoning"`
	ServiceTier        string         `json:"service_tier"`
	Store              bool           `json:"store"`
	Temperature        float64        `json:"temperature"`
	Text               map[string]any `json:"text"`
	ToolChoice         string         `json:"tool_choice"`
	Tools              []string       `json:"tools"`
	TopP               float64        `json:"top_p"`
	Truncation         string         `json:"truncation"`
	Usage              *responseUsage `json:"usage"`
	User               *string        `json:"user"`
	Metadata           map[string]any `json:"metadata"`
}

func (s *Server) responseUsage() *responseUsage {
	c := s.chatUsage()
	var u responseUsage
	u.InputTokens = c.PromptTokens
	u.InputTokensDetails.CachedTokens = c.PromptTokensDetails.CachedTokens
	u.OutputTokens = c.CompletionTokens
	u.TotalTokens = c.TotalTokens
	return &u
}

func (s *Server) openaiResponses(w http.ResponseWriter, r *http.Request, body []byte) {
	var req responsesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		openaiError(w, http.StatusBadRequest, "invalid_request_error", "", "Invalid body: failed to parse JSON value.")
		return
	}
	if req.Model == "" {
		openaiError(w, http.StatusBadRequest, "invalid_request_error", "missing_required_parameter", "Missing required parameter: 'model'.")
		return
	}
	s.openaiHeaders(w)
	resp := responseObject{
		ID: s.id("resp_"), Object: "response", CreatedAt: s.opts.Now().Unix(), Status: "in_progress",
		Instructions: req.Instructions, Model: req.Model, Output: []outputItem{}, ParallelToolCalls: true,
		Reasoning: map[string]any{"effort": nil, "summary": nil}, ServiceTier: "default", Store: true,
		Temperature: 1, Text: map[string]any{"format": map[string]any{"type": "text"}, "verbosity": "medium"},
		ToolChoice: "auto", Tools: []string{}, TopP: 1, Truncation: "disabled", Metadata: map[string]any{},
	}
	itemID := s.id("msg_")
	done := outputItem{ID: itemID, Type: "message", Status: "completed", Role: "assistant",
		Content: []outputText{{Type: "output_text", Annotations: []string{}, Logprobs: []string{}, Text: s.Text()}}}
	if !req.Stream {
		resp.Status, resp.Output, resp.Usage = "completed", []outputItem{done}, s.responseUsage()
		writeJSON(w, http.StatusOK, resp)
		return
	}

	stream := startSSE(w, r, s.opts.ChunkDelay, nil)
	seq := 0
	send := func(typ string, fields map[string]any) bool {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		return stream.event(typ, fields)
	}
	at := func(extra map[string]any) map[string]any {
		m := map[string]any{"item_id": itemID, "output_index": 0, "content_index": 0}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	emptyPart := outputText{Type: "output_text", Annotations: []string{}, Logprobs: []string{}}
	ok := send("response.created", map[string]any{"response": resp}) &&
		send("response.in_progress", map[string]any{"response": resp}) &&
		send("response.output_item.added", map[string]any{"output_index": 0,
			"item": outputItem{ID: itemID, Type: "message", Status: "in_progress", Role: "assistant", Content: []outputText{}}}) &&
		send("response.content_part.added", at(map[string]any{"part": emptyPart}))
	for _, p := range s.pieces() {
		ok = ok && send("response.output_text.delta", at(map[string]any{"delta": p, "logprobs": []string{}, "obfuscation": "q2Zb"}))
	}
	ok = ok && send("response.output_text.done", at(map[string]any{"text": s.Text(), "logprobs": []string{}})) &&
		send("response.content_part.done", at(map[string]any{"part": done.Content[0]})) &&
		send("response.output_item.done", map[string]any{"output_index": 0, "item": done})
	if !ok {
		return
	}
	resp.Status, resp.Output, resp.Usage = "completed", []outputItem{done}, s.responseUsage()
	send("response.completed", map[string]any{"response": resp})
}
