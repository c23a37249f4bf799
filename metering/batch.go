package metering

import (
	"bytes"
	"encoding/json"
	"strings"

	"byokd.dev/byok"
)

// This file meters a batch's results file as it is downloaded. A batch
// is billed for the requests it served, at the batch rate, and nothing of
// that shows when it is created; its results file (JSON Lines, one line per
// request: OpenAI's output file, Anthropic's /results) holds each answer
// with its usage. byokd meters a batch when its results pass through it,
// and counts each file once however often it is fetched (see BatchKey).

// maxBatchLine is the longest results line read; a longer one (an answer
// of megabytes) makes the file's cost unknown rather than wrong.
const maxBatchLine = 8 << 20

// batchResults reads a results file in pieces of any size.
type batchResults struct {
	svc        byok.Service
	line       []byte
	over       bool         // the current line is longer than maxBatchLine
	parts      []byok.Usage // per model, in the order first seen
	results    bool         // a line named a batch request (custom_id): this is a results file
	unreadable bool         // a line that may be a billed answer could not be read
}

func (b *batchResults) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !b.over && len(b.line)+len(chunk) <= maxBatchLine {
			b.line = append(b.line, chunk...)
		} else {
			b.over, b.line = true, b.line[:0]
		}
		if i < 0 {
			return
		}
		b.endLine()
		p = p[i+1:]
	}
}

// endLine reads the line gathered so far, if any.
func (b *batchResults) endLine() {
	line := bytes.TrimSpace(b.line)
	switch {
	case b.over:
		b.unreadable = true
	case len(line) > 0:
		b.readLine(line)
	}
	b.line, b.over = b.line[:0], false
}

// readLine adds one request's answer. Only served requests are billed: an
// OpenAI line with status 200, an Anthropic one whose result succeeded.
func (b *batchResults) readLine(line []byte) {
	var model string
	var usage json.RawMessage
	switch b.svc {
	case byok.OpenAI:
		var l struct {
			CustomID *string         `json:"custom_id"`
			Response json.RawMessage `json:"response"` // null where the request failed
			Error    json.RawMessage `json:"error"`
		}
		var r struct {
			StatusCode int `json:"status_code"`
			Body       struct {
				Model string          `json:"model"`
				Usage json.RawMessage `json:"usage"`
			} `json:"body"`
		}
		if json.Unmarshal(line, &l) != nil || (len(l.Response) > 0 && json.Unmarshal(l.Response, &r) != nil) {
			b.unreadable = true
			return
		}
		// An input file's lines have a custom_id too, but no answer.
		b.results = b.results || (l.CustomID != nil && (l.Response != nil || l.Error != nil))
		if r.StatusCode != 200 {
			return
		}
		model, usage = r.Body.Model, r.Body.Usage
	case byok.Anthropic:
		var l struct {
			CustomID *string `json:"custom_id"`
			Result   struct {
				Type    string `json:"type"`
				Message struct {
					Model string          `json:"model"`
					Usage json.RawMessage `json:"usage"`
				} `json:"message"`
			} `json:"result"`
		}
		if json.Unmarshal(line, &l) != nil {
			b.unreadable = true
			return
		}
		b.results = b.results || (l.CustomID != nil && l.Result.Type != "")
		if l.Result.Type != "succeeded" {
			return
		}
		model, usage = l.Result.Message.Model, l.Result.Message.Usage
	}
	var u byok.Usage
	ok := false
	if b.svc == byok.Anthropic {
		var a anthropicUsage
		if ok = a.merge(usage); ok {
			a.apply(&u)
		}
	} else {
		var c openAICounts
		if c, ok = openAIUsage(usage); ok {
			u.InputTokens, u.CacheReadTokens, u.OutputTokens = c.input, c.cached, c.output
			u.AudioInputTokens, u.AudioOutputTokens, u.ImageInputTokens = c.audioIn, c.audioOut, c.imageIn
		}
	}
	if !ok || model == "" {
		b.unreadable = true // served, so billed, but byokd cannot say for what
		return
	}
	u.Model, u.ServiceTier = model, "batch"
	u.Complete = true
	for i := range b.parts {
		if p := &b.parts[i]; p.Model == model {
			addUsage(p, u)
			return
		}
	}
	b.parts = append(b.parts, u)
}

// addUsage adds u's counts to p.
func addUsage(p *byok.Usage, u byok.Usage) {
	p.InputTokens += u.InputTokens
	p.OutputTokens += u.OutputTokens
	p.CacheReadTokens += u.CacheReadTokens
	p.CacheWrite5mTokens += u.CacheWrite5mTokens
	p.CacheWrite1hTokens += u.CacheWrite1hTokens
	p.AudioInputTokens += u.AudioInputTokens
	p.AudioOutputTokens += u.AudioOutputTokens
	p.ImageInputTokens += u.ImageInputTokens
	p.WebSearches += u.WebSearches
}

// usage is the file's total: the one model's name, or the models' names
// joined, and the counts summed. Complete once the whole file was read.
func (b *batchResults) usage(whole bool) byok.Usage {
	var u byok.Usage
	names := make([]string, 0, len(b.parts))
	for _, p := range b.parts {
		addUsage(&u, p)
		names = append(names, p.Model)
	}
	u.Model = strings.Join(names, ", ")
	if len(b.parts) > 0 {
		u.ServiceTier = "batch"
	}
	// Another file (an uploaded input, a document) costs nothing to
	// download, whatever its lines hold.
	u.Complete = whole && !(b.unreadable && b.results)
	return u
}

// BatchKey names the results file that method path of svc downloads, for
// counting it once: "openai file-abc", "anthropic msgbatch_01". ok is
// false for any other call.
func BatchKey(svc byok.Service, method, path string) (key string, ok bool) {
	if method != "GET" || formatOf(svc, path) != formatBatch {
		return "", false
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	// /v1/files/{id}/content, /v1/messages/batches/{id}/results
	return string(svc) + " " + segs[len(segs)-2], true
}
