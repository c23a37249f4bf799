package fakeprovider

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
)

// openaiErrorBody is OpenAI's error shape.
type openaiErrorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func openaiError(w http.ResponseWriter, status int, typ, code, msg string) {
	var b openaiErrorBody
	b.Error.Message, b.Error.Type = msg, typ
	if code != "" {
		b.Error.Code = &code
	}
	w.Header().Set("X-Request-Id", "req_fakeprovidererror0000000000")
	writeJSON(w, status, b)
}

// openaiHeaders are the headers OpenAI sends on a successful reply.
func (s *Server) openaiHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Openai-Organization", "org-fakeprovider")
	h.Set("Openai-Processing-Ms", "12")
	h.Set("Openai-Version", "2020-10-01")
	h.Set("X-Request-Id", s.id("req_"))
	h.Set("X-Ratelimit-Limit-Requests", "10000")
	h.Set("X-Ratelimit-Remaining-Requests", "9999")
	h.Set("X-Ratelimit-Reset-Requests", "6ms")
	h.Set("X-Ratelimit-Limit-Tokens", "30000000")
	h.Set("X-Ratelimit-Remaining-Tokens", "29999990")
	h.Set("X-Ratelimit-Reset-Tokens", "0s")
}

// chatUsage is OpenAI's CompletionUsage. prompt_tokens includes cached
// tokens and cache writes; the details say how many of them were which.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
		AudioTokens  int64 `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int64 `json:"reasoning_tokens"`
		AudioTokens              int64 `json:"audio_tokens"`
		AcceptedPredictionTokens int64 `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int64 `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

func (s *Server) chatUsage() chatUsage {
	u := s.opts.Usage
	var c chatUsage
	c.PromptTokens = u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens()
	c.CompletionTokens = u.OutputTokens
	c.TotalTokens = c.PromptTokens + c.CompletionTokens
	// OpenAI reports no cache writes: they are billed as ordinary input.
	c.PromptTokensDetails.CachedTokens = u.CacheReadTokens
	return c
}

type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage       bool  `json:"include_usage"`
		IncludeObfuscation *bool `json:"include_obfuscation"`
	} `json:"stream_options"`
}

type chatMessage struct {
	Role        string   `json:"role"`
	Content     string   `json:"content"`
	Refusal     *string  `json:"refusal"`
	Annotations []string `json:"annotations"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             chatUsage    `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

// firstDelta opens a stream: the role, empty content and a null refusal.
type firstDelta struct {
	Role    string  `json:"role"`
	Content string  `json:"content"`
	Refusal *string `json:"refusal"`
}

// contentDelta carries one piece of text.
type contentDelta struct {
	Content string `json:"content"`
}

type chunkChoice struct {
	Index        int       `json:"index"`
	Delta        any       `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

// chatChunk is one chat.completion.chunk. Usage is a json.RawMessage so a
// chunk can carry "usage":null, the usage object, or no usage key at all,
// as OpenAI does depending on stream_options.include_usage.
type chatChunk struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	ServiceTier       string          `json:"service_tier"`
	SystemFingerprint string          `json:"system_fingerprint"`
	Choices           []chunkChoice   `json:"choices"`
	Usage             json.RawMessage `json:"usage,omitempty"`
	Obfuscation       string          `json:"obfuscation,omitempty"`
}

const fingerprint = "fp_fakeprov01"

func (s *Server) openaiChat(w http.ResponseWriter, r *http.Request, body []byte) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		openaiError(w, http.StatusBadRequest, "invalid_request_error", "",
			"We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. "+
				"The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "+
				"If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)")
		return
	}
	if req.Model == "" {
		openaiError(w, http.StatusBadRequest, "invalid_request_error", "", "you must provide a model parameter")
		return
	}
	s.openaiHeaders(w)
	id, created := s.id("chatcmpl-"), s.opts.Now().Unix()
	if !req.Stream {
		writeJSON(w, http.StatusOK, chatCompletion{
			ID: id, Object: "chat.completion", Created: created, Model: req.Model,
			Choices: []chatChoice{{
				Message:      chatMessage{Role: "assistant", Content: s.Text(), Annotations: []string{}},
				FinishReason: "stop",
			}},
			Usage: s.chatUsage(), ServiceTier: "default", SystemFingerprint: fingerprint,
		})
		return
	}

	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	obfuscate := req.StreamOptions == nil || req.StreamOptions.IncludeObfuscation == nil || *req.StreamOptions.IncludeObfuscation
	var nullUsage json.RawMessage
	if includeUsage {
		nullUsage = json.RawMessage("null")
	}
	chunk := func(c []chunkChoice, usage json.RawMessage) chatChunk {
		ch := chatChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			ServiceTier: "default", SystemFingerprint: fingerprint, Choices: c, Usage: usage,
		}
		if obfuscate {
			ch.Obfuscation = "Zk8x"
		}
		return ch
	}
	stream := startSSE(w, r, s.opts.ChunkDelay, nil)
	if !stream.event("", chunk([]chunkChoice{{Delta: firstDelta{Role: "assistant"}}}, nullUsage)) {
		return
	}
	for _, p := range s.pieces() {
		if !stream.event("", chunk([]chunkChoice{{Delta: contentDelta{Content: p}}}, nullUsage)) {
			return
		}
	}
	stop := "stop"
	if !stream.event("", chunk([]chunkChoice{{Delta: struct{}{}, FinishReason: &stop}}, nullUsage)) {
		return
	}
	if includeUsage {
		if !stream.event("", chunk([]chunkChoice{}, mustJSON(s.chatUsage()))) {
			return
		}
	}
	stream.event("", "[DONE]")
}

type embeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

type embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

type embeddingsUsage struct {
	PromptTokens int64 `json:"prompt_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
}

type embeddingsResponse struct {
	Object string          `json:"object"`
	Data   []embedding     `json:"data"`
	Model  string          `json:"model"`
	Usage  embeddingsUsage `json:"usage"`
}

// Embedding is the vector the fake returns for every input: dims values
// i/dims, so a client that decodes base64 wrongly sees other numbers.
func Embedding(dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(i+1) / float32(dims)
	}
	return v
}

func (s *Server) openaiEmbeddings(w http.ResponseWriter, r *http.Request, body []byte) {
	var req embeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Model == "" || len(req.Input) == 0 {
		openaiError(w, http.StatusBadRequest, "invalid_request_error", "", "'input' and 'model' are required properties.")
		return
	}
	inputs := 1
	var many []json.RawMessage
	if json.Unmarshal(req.Input, &many) == nil && len(many) > 0 {
		// An array of strings is several inputs; an array of numbers is one
		// tokenised input.
		var str string
		if json.Unmarshal(many[0], &str) == nil {
			inputs = len(many)
		}
	}
	dims := req.Dimensions
	if dims <= 0 {
		dims = 8
	}
	vec := Embedding(dims)
	var encoded any = vec
	if req.EncodingFormat == "base64" {
		buf := make([]byte, 4*dims)
		for i, f := range vec {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
		}
		encoded = base64.StdEncoding.EncodeToString(buf)
	}
	resp := embeddingsResponse{Object: "list", Model: req.Model,
		Usage: embeddingsUsage{PromptTokens: s.opts.Usage.InputTokens, TotalTokens: s.opts.Usage.InputTokens}}
	for i := range inputs {
		resp.Data = append(resp.Data, embedding{Object: "embedding", Index: i, Embedding: encoded})
	}
	s.openaiHeaders(w)
	writeJSON(w, http.StatusOK, resp)
}

// OpenAIModels are the models GET /v1/models lists.
func OpenAIModels() []string { return []string{"gpt-4o-mini", "gpt-4.1", "text-embedding-3-small"} }

func (s *Server) openaiModels(w http.ResponseWriter, r *http.Request, _ []byte) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for i, m := range OpenAIModels() {
		list.Data = append(list.Data, model{ID: m, Object: "model", Created: 1700000000 + int64(i), OwnedBy: "system"})
	}
	s.openaiHeaders(w)
	w.Header().Set("Openai-Processing-Ms", strconv.Itoa(3))
	writeJSON(w, http.StatusOK, list)
}

// openaiImages answers POST /v1/images/generations as gpt-image-1 does: a
// base64 image and the usage object of image models (text and image input
// tokens, image output tokens).
func (s *Server) openaiImages(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Model  string `json:"model"`
		Prompt string `json:"prompt"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Prompt == "" {
		openaiError(w, http.StatusBadRequest, "invalid_request_error", "", "Missing required parameter: 'prompt'.")
		return
	}
	u := s.opts.Usage
	s.openaiHeaders(w)
	writeJSON(w, http.StatusOK, map[string]any{
		"created": s.opts.Now().Unix(),
		"data":    []map[string]string{{"b64_json": base64.StdEncoding.EncodeToString([]byte("\x89PNG fake image"))}},
		"usage": map[string]any{
			"input_tokens": u.InputTokens, "output_tokens": u.OutputTokens, "total_tokens": u.InputTokens + u.OutputTokens,
			"input_tokens_details": map[string]int64{"text_tokens": u.InputTokens, "image_tokens": 0},
		},
	})
}

// openaiSpeech answers POST /v1/audio/speech as the API does: the audio
// itself, with no usage in the answer.
func (s *Server) openaiSpeech(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Model string `json:"model"`
		Input string `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Input == "" {
		openaiError(w, http.StatusBadRequest, "invalid_request_error", "", "Missing required parameter: 'input'.")
		return
	}
	s.openaiHeaders(w)
	w.Header().Set("Content-Type", "audio/mpeg")
	w.Write([]byte("ID3\x04fake mp3 frames"))
}
