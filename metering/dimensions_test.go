package metering

import (
	"math"
	"strings"
	"testing"

	"byokd.dev/byok"
)

// meterBody meters one whole response body of c with content type ct.
func meterBody(c Call, ct, body string) byok.Usage {
	m := NewMeter(c, 200, ct)
	m.Filter([]byte(body))
	m.Flush()
	return m.Usage()
}

// listCost is the published rule, worked out independently of Cost: tokens
// times USD per million at the applicable rates, times each multiplier,
// rounded to the micro-dollar.
func listCost(in, cached, write5m, output int64, rates [4]float64, mult float64) byok.Micros {
	usd := (float64(in)*rates[0] + float64(cached)*rates[1] + float64(write5m)*rates[2] + float64(output)*rates[3]) / 1e6 * mult
	return byok.Micros(math.Round(usd * 1e6))
}

// TestCost_BillingDimensions: for each way a provider's bill departs from
// the base rates — service tiers (flex, priority, batch), long-context
// tiers, Anthropic's US-only inference and fast mode — a response in the
// provider's exact format, JSON and streamed, costs what the provider's
// published rule says. A tier the table does not price is "cost unknown",
// never the base rate.
func TestCost_BillingDimensions(t *testing.T) {
	p := DefaultPrices()
	chat := Call{Service: byok.OpenAI, Path: "/v1/chat/completions"}
	responses := Call{Service: byok.OpenAI, Path: "/v1/responses"}
	messages := Call{Service: byok.Anthropic, Path: "/v1/messages"}
	sol := [4]float64{2, 0.10, 2.50, 10}  // gpt-6.1-sol up to 272K
	solLong := [4]float64{4, 0.20, 5, 15} // above 272K input tokens
	for _, c := range []struct {
		name   string
		call   Call
		ct     string
		body   string
		want   byok.Micros
		known  bool
		stream bool
	}{
		{name: "OpenAI flex, JSON", call: chat, ct: "application/json",
			body: `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-6.1-sol-2026-09-30","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":200,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":100}},"service_tier":"flex","system_fingerprint":null}`,
			want: listCost(800, 200, 0, 500, sol, 0.5), known: true},
		{name: "OpenAI priority, chat stream", call: chat, ct: "text/event-stream",
			body: "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-6.1-sol\",\"service_tier\":\"priority\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":null}],\"usage\":null}\n\n" +
				"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-6.1-sol\",\"service_tier\":\"priority\",\"choices\":[],\"usage\":{\"prompt_tokens\":2000,\"completion_tokens\":300,\"total_tokens\":2300,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n" +
				"data: [DONE]\n\n",
			want: listCost(2000, 0, 0, 300, sol, 2), known: true},
		{name: "OpenAI long context with flex, Responses stream", call: responses, ct: "text/event-stream",
			body: "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"model\":\"gpt-6.1-sol\",\"service_tier\":\"auto\",\"usage\":null}}\n\n" +
				"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"model\":\"gpt-6.1-sol\",\"service_tier\":\"flex\",\"usage\":{\"input_tokens\":300000,\"input_tokens_details\":{\"cached_tokens\":100000},\"output_tokens\":2000,\"output_tokens_details\":{\"reasoning_tokens\":1500},\"total_tokens\":302000}}}\n\n",
			want: listCost(200000, 100000, 0, 2000, solLong, 0.5), known: true},
		{name: "OpenAI exactly at the long-context line, JSON", call: responses, ct: "application/json",
			body: `{"id":"r","object":"response","model":"gpt-6.1-sol","service_tier":"default","usage":{"input_tokens":272000,"input_tokens_details":{"cached_tokens":0},"output_tokens":10,"total_tokens":272010}}`,
			want: listCost(272000, 0, 0, 10, sol, 1), known: true},
		{name: "Anthropic fast mode and US-only inference, JSON", call: messages, ct: "application/json",
			body: `{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-5-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1000,"cache_creation_input_tokens":0,"cache_read_input_tokens":4000,"output_tokens":200,"service_tier":"standard","inference_geo":"us","speed":"fast"}}`,
			want: listCost(1000, 4000, 0, 200, [4]float64{4, 0.20, 5, 20}, 2*1.1), known: true},
		{name: "Anthropic long prompt, stream", call: messages, ct: "text/event-stream",
			body: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-5-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":90000,\"cache_creation_input_tokens\":20000,\"cache_read_input_tokens\":0,\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\n" +
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":800}}\n\n" +
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
			// 110,000 prompt tokens are over 100,000: every token at the long rates.
			want: listCost(90000, 0, 20000, 800, [4]float64{0.50, 0.05, 0.625, 2.50}, 1), known: true},
		{name: "Anthropic batch", call: messages, ct: "application/json",
			body: `{"id":"msg_3","type":"message","role":"assistant","model":"claude-sonnet-5-5","content":[],"stop_reason":"end_turn","usage":{"input_tokens":10000,"output_tokens":1000,"service_tier":"batch"}}`,
			want: listCost(10000, 0, 0, 1000, [4]float64{2, 0.10, 2.50, 10}, 0.5), known: true},
		{name: "a tier the table does not price", call: messages, ct: "application/json",
			body:  `{"id":"msg_4","type":"message","role":"assistant","model":"claude-sonnet-5-5","content":[],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":10,"service_tier":"priority"}}`,
			known: false},
		{name: "a named variant is not its base model", call: chat, ct: "application/json",
			body:  `{"id":"c","object":"chat.completion","model":"gpt-4o-search-preview","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":10,"total_tokens":20}}`,
			known: false},
		{name: "OpenAI audio tokens at the audio rates, JSON", call: chat, ct: "application/json",
			body: `{"id":"c","object":"chat.completion","model":"gpt-4o-audio-preview-2024-12-17","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":600,"total_tokens":1600,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":400,"text_tokens":600},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":500,"text_tokens":100}}}`,
			// 600 text in at $2.50, 400 audio in at $40, 100 text out at $10, 500 audio out at $80.
			want: listCost(600, 0, 0, 100, [4]float64{2.50, 0, 0, 10}, 1) + listCost(400, 0, 0, 500, [4]float64{40, 0, 0, 80}, 1), known: true},
		{name: "OpenAI image generation, JSON", call: Call{Service: byok.OpenAI, Path: "/v1/images/generations", Model: "gpt-image-1"}, ct: "application/json",
			body: `{"created":1713833628,"data":[{"b64_json":"iVBORw0KGgo="}],"usage":{"total_tokens":4210,"input_tokens":50,"output_tokens":4160,"input_tokens_details":{"text_tokens":50,"image_tokens":0}}}`,
			// The answer names no model: the request's prices it. Text in at $5, image out at $40.
			want: listCost(50, 0, 0, 4160, [4]float64{5, 1.25, 0, 40}, 1), known: true},
		{name: "audio tokens on a model without audio rates", call: chat, ct: "application/json",
			body:  `{"id":"c","object":"chat.completion","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":100,"completion_tokens":10,"total_tokens":110,"prompt_tokens_details":{"audio_tokens":50}}}`,
			known: false},
		{name: "Anthropic web searches, stream", call: messages, ct: "text/event-stream",
			body: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-5-5\",\"content\":[],\"usage\":{\"input_tokens\":5000,\"output_tokens\":1}}}\n\n" +
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":400,\"server_tool_use\":{\"web_search_requests\":3}}}\n\n" +
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
			// $10 per 1,000 searches.
			want: listCost(5000, 0, 0, 400, [4]float64{2, 0.10, 2.50, 10}, 1) + byok.USD(3*10.0/1000), known: true},
		// OpenAI's hosted web search is $10 per 1,000 calls, and its usage
		// object does not count them: the output lists one
		// web_search_call item per search. The JSON is as the API sends
		// it, indented; the message's text quoting such an item is no
		// search, nor is a nested "type".
		{name: "OpenAI web searches, Responses JSON", call: responses, ct: "application/json",
			body: `{
  "id": "resp_1",
  "object": "response",
  "model": "gpt-6.1-sol-2026-09-30",
  "output": [
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "byokd"}},
    {"type": "web_search_call", "id": "ws_2", "status": "completed", "action": {"type": "open_page", "url": "https://example.com"}},
    {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
     "content": [{"type": "output_text", "text": "I searched: {\"type\": \"web_search_call\"}", "annotations": [{"type": "url_citation", "url": "https://example.com"}]}]}
  ],
  "service_tier": "default",
  "usage": {"input_tokens": 9000, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 100}, "total_tokens": 9300}
}`,
			want: listCost(9000, 0, 0, 300, sol, 1) + byok.USD(2*10.0/1000), known: true},
		{name: "OpenAI web searches, Responses stream", call: responses, ct: "text/event-stream",
			body: "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"model\":\"gpt-6.1-sol\",\"output\":[],\"usage\":null}}\n\n" +
				"event: response.web_search_call.in_progress\ndata: {\"type\":\"response.web_search_call.in_progress\",\"output_index\":0,\"item_id\":\"ws_1\",\"sequence_number\":2}\n\n" +
				"event: response.web_search_call.searching\ndata: {\"type\":\"response.web_search_call.searching\",\"output_index\":0,\"item_id\":\"ws_1\",\"sequence_number\":3}\n\n" +
				"event: response.web_search_call.completed\ndata: {\"type\":\"response.web_search_call.completed\",\"output_index\":0,\"item_id\":\"ws_1\",\"sequence_number\":4}\n\n" +
				"event: response.web_search_call.completed\ndata: {\"type\":\"response.web_search_call.completed\",\"output_index\":1,\"item_id\":\"ws_2\",\"sequence_number\":7}\n\n" +
				"event: response.web_search_call.completed\ndata: {\"type\":\"response.web_search_call.completed\",\"output_index\":2,\"item_id\":\"ws_3\",\"sequence_number\":10}\n\n" +
				"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"model\":\"gpt-6.1-sol\",\"output\":[{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\"},{\"type\":\"web_search_call\",\"id\":\"ws_2\",\"status\":\"completed\"},{\"type\":\"web_search_call\",\"id\":\"ws_3\",\"status\":\"completed\"}],\"usage\":{\"input_tokens\":12000,\"output_tokens\":500,\"total_tokens\":12500}}}\n\n",
			want: listCost(12000, 0, 0, 500, sol, 1) + byok.USD(3*10.0/1000), known: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := meterBody(c.call, c.ct, c.body)
			if !u.Complete {
				t.Fatalf("usage %+v not complete", u)
			}
			got, known := p.Cost(c.call.Service, u)
			if known != c.known || got != c.want {
				t.Errorf("cost %v (known %v), want %v (known %v); usage %+v", got, known, c.want, c.known, u)
			}
		})
	}
}

// A legacy completions stream is asked for its usage like a chat stream
// and metered the same way; the usage report the client did not ask for
// is hidden from it.
func TestMeter_LegacyCompletionsStream(t *testing.T) {
	body, c, err := Inspect(byok.OpenAI, "/v1/completions", []byte(`{"model":"gpt-3.5-turbo-instruct","prompt":"Say hi","stream":true}`))
	if err != nil || !c.InjectedUsage || !strings.Contains(string(body), `"stream_options":{"include_usage":true}`) {
		t.Fatalf("Inspect: %s %+v %v", body, c, err)
	}
	stream := "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[{\"text\":\"Hi\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n" +
		"data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
		"data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n" +
		"data: [DONE]\n\n"
	m := NewMeter(c, 200, "text/event-stream")
	out, _ := m.Filter([]byte(stream))
	shown := string(out) + string(m.Flush())
	u := m.Usage()
	if !u.Complete || u.InputTokens != 3 || u.OutputTokens != 2 {
		t.Errorf("usage %+v, want 3 in and 2 out, complete", u)
	}
	if strings.Contains(shown, `"usage":{`) || !strings.Contains(shown, `"text":"Hi"`) || !strings.Contains(shown, "data: [DONE]") {
		t.Errorf("the client saw:\n%s\nwant the stream without the usage report it did not ask for", shown)
	}
	if cost, known := DefaultPrices().Cost(byok.OpenAI, u); !known || cost == 0 {
		t.Errorf("cost %v known %v", cost, known)
	}
}
