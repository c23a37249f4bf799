package metering

import (
	"strings"
	"testing"

	"byokd.dev/byok"
)

// Batch results in the providers' exact JSON Lines: each served request is
// billed at half its model's list price, failed ones not at all, and one
// file may hold several models. How the file is cut into pieces changes
// nothing.
func TestMeter_BatchResults(t *testing.T) {
	p := DefaultPrices()
	openai := "" +
		`{"id": "batch_req_1", "custom_id": "request-1", "response": {"status_code": 200, "request_id": "req_1", "body": {"id": "chatcmpl-1", "object": "chat.completion", "created": 1711652795, "model": "gpt-5.4-2026-03-05", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "logprobs": null, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500, "prompt_tokens_details": {"cached_tokens": 200}}, "system_fingerprint": "fp_1"}}, "error": null}` + "\n" +
		`{"id": "batch_req_2", "custom_id": "request-2", "response": {"status_code": 400, "request_id": "req_2", "body": {"error": {"message": "Invalid model", "type": "invalid_request_error"}}}, "error": null}` + "\n" +
		`{"id": "batch_req_3", "custom_id": "request-3", "response": null, "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}` + "\n" +
		`{"id": "batch_req_4", "custom_id": "request-4", "response": {"status_code": 200, "request_id": "req_4", "body": {"id": "chatcmpl-4", "object": "chat.completion", "created": 1711652796, "model": "gpt-5.4-2026-03-05", "choices": [], "usage": {"prompt_tokens": 800, "completion_tokens": 100, "total_tokens": 900}}}, "error": null}` + "\n"
	anthropic := "" +
		`{"custom_id":"my-first-request","result":{"type":"succeeded","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-5-5","content":[{"type":"text","text":"Hello!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1000,"cache_read_input_tokens":4000,"cache_creation_input_tokens":0,"output_tokens":500,"service_tier":"batch"}}}}` + "\n" +
		`{"custom_id":"my-second-request","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"Validation error"}}}}` + "\n" +
		`{"custom_id":"my-third-request","result":{"type":"succeeded","message":{"id":"msg_3","type":"message","role":"assistant","model":"claude-haiku-5-5","content":[],"stop_reason":"end_turn","usage":{"input_tokens":2000,"output_tokens":100,"service_tier":"batch"}}}}` + "\n" +
		`{"custom_id":"my-fourth-request","result":{"type":"expired"}}` // the last line has no newline
	gpt54 := [4]float64{2.50, 0.25, 0, 15}
	sonnet := [4]float64{2, 0.10, 2.50, 10}
	haiku := [4]float64{0.10, 0.01, 0.125, 0.50}
	for _, c := range []struct {
		name  string
		call  Call
		body  string
		want  byok.Micros
		model string
	}{
		{"OpenAI output file", Call{Service: byok.OpenAI, Path: "/v1/files/file-abc123/content"}, openai,
			listCost(1000, 200, 0, 300, gpt54, 0.5) + listCost(800, 0, 0, 100, gpt54, 0.5), "gpt-5.4-2026-03-05"},
		{"Anthropic results, two models", Call{Service: byok.Anthropic, Path: "/v1/messages/batches/msgbatch_01/results"}, anthropic,
			listCost(1000, 4000, 0, 500, sonnet, 0.5) + listCost(2000, 0, 0, 100, haiku, 0.5), "claude-sonnet-5-5, claude-haiku-5-5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, size := range []int{len(c.body), 1, 7, 100} {
				m := NewMeter(c.call, 200, "application/binary")
				for rest := c.body; rest != ""; {
					n := min(size, len(rest))
					if out, _ := m.Filter([]byte(rest[:n])); string(out) != rest[:n] {
						t.Fatal("the client got a changed body")
					}
					rest = rest[n:]
				}
				m.Flush()
				u := m.Usage()
				got, known := p.CostAll(c.call.Service, m.Parts())
				if !u.Complete || !known || got != c.want || u.Model != c.model || u.ServiceTier != "batch" {
					t.Errorf("pieces of %d: cost %v known %v, want %v; usage %+v", size, got, known, c.want, u)
				}
			}
		})
	}

	// Cut short, the file is incomplete; a line byokd cannot read makes
	// the cost unknown; a file that holds no results costs nothing.
	cut := NewMeter(Call{Service: byok.OpenAI, Path: "/v1/files/file-abc123/content"}, 200, "application/binary")
	cut.Filter([]byte(openai[:len(openai)/2]))
	if u := cut.Usage(); u.Complete {
		t.Errorf("a file cut short: usage %+v is complete", u)
	}
	bad := NewMeter(Call{Service: byok.OpenAI, Path: "/v1/files/file-abc123/content"}, 200, "application/binary")
	bad.Filter([]byte(openai + `{"id": "batch_req_5", "custom_id": "request-5", "response": {"status_code": 200, "body": {"model": "gpt-5.4", "usage": {"prompt_tokens": 10` + "\n"))
	bad.Flush()
	if u := bad.Usage(); u.Complete {
		t.Errorf("a damaged line: usage %+v is complete", u)
	}
	input := NewMeter(Call{Service: byok.OpenAI, Path: "/v1/files/file-in/content"}, 200, "application/binary")
	input.Filter([]byte(`{"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-5.4", "messages": [{"role": "user", "content": "Hello"}]}}` + "\n" + "not json\n"))
	input.Flush()
	if u := input.Usage(); !u.Complete || len(input.Parts()) != 0 {
		t.Errorf("a batch's input file: usage %+v parts %v, want complete and nothing billed", u, input.Parts())
	}
	pdf := NewMeter(Call{Service: byok.OpenAI, Path: "/v1/files/file-pdf/content"}, 200, "application/pdf")
	pdf.Filter([]byte("%PDF-1.7\n" + strings.Repeat("\x00\xff", 100)))
	pdf.Flush()
	if u := pdf.Usage(); !u.Complete || len(pdf.Parts()) != 0 {
		t.Errorf("a document: usage %+v, want complete and nothing billed", u)
	}
}

func TestBatchKey(t *testing.T) {
	for _, c := range []struct {
		svc          byok.Service
		method, path string
		want         string
	}{
		{byok.OpenAI, "GET", "/v1/files/file-abc/content", "openai file-abc"},
		{byok.OpenAI, "GET", "/v1/files/file-abc/content?x=1", "openai file-abc"},
		{byok.Anthropic, "GET", "/v1/messages/batches/msgbatch_01/results", "anthropic msgbatch_01"},
		{byok.OpenAI, "GET", "/v1/files/file-abc", ""},
		{byok.OpenAI, "POST", "/v1/files/file-abc/content", ""},
		{byok.Anthropic, "GET", "/v1/messages/batches/msgbatch_01", ""},
		{byok.ClickUp, "GET", "/api/v2/files/x/content", ""},
	} {
		got, ok := BatchKey(c.svc, c.method, c.path)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("BatchKey(%s %s %s) = %q %v, want %q", c.svc, c.method, c.path, got, ok, c.want)
		}
	}
}
