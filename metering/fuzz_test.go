package metering

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"byokd.dev/byok"
	"github.com/google/go-cmp/cmp"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/, made from the sample
// streams and bodies in testdata.

// splits cuts b at two points chosen by a and b.
func splits(data []byte, a, b uint16) [][]byte {
	if len(data) == 0 {
		return [][]byte{data}
	}
	i, j := int(a)%(len(data)+1), int(b)%(len(data)+1)
	if i > j {
		i, j = j, i
	}
	return [][]byte{data[:i], data[i:j], data[j:]}
}

func FuzzSSE(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		whole := parseSSE(data)
		if diff := cmp.Diff(whole, parseSSE(splits(data, a, b)...)); diff != "" {
			t.Fatalf("split changed the events (-whole +split):\n%s", diff)
		}
		ref := referenceSSE(data)
		if len(ref) != len(whole) {
			t.Fatalf("got %d events, reference %d", len(whole), len(ref))
		}
		for i := range ref {
			w := whole[i]
			w.Type = ""
			if len(ref[i].Name) > maxKey {
				w.Name, ref[i].Name = "", ""
			}
			if w != ref[i] {
				t.Fatalf("event %d: got %+v, reference %+v", i, w, ref[i])
			}
		}
	})
}

// meterResult is everything a Meter run shows.
type meterResult struct {
	Client    []byte
	Terminals int
	Usage     byok.Usage
}

func meterPieces(c Call, status int, ct string, pieces [][]byte) meterResult {
	m := NewMeter(c, status, ct)
	var r meterResult
	for _, p := range pieces {
		out, term := m.Filter(p)
		if !c.InjectedUsage && len(p) > 0 && &out[0] != &p[0] {
			panic("Filter copied its input")
		}
		r.Client = append(r.Client, out...)
		if term {
			r.Terminals++
		}
	}
	r.Client = append(r.Client, m.Flush()...)
	if r.Client == nil {
		r.Client = []byte{}
	}
	r.Usage = m.Usage()
	return r
}

// fuzzMeter checks one body against a call: splitting never changes the
// result, counts stay in range, pass-through is byte-exact, and cost never
// panics or goes negative.
func fuzzMeter(t *testing.T, prices *Prices, c Call, ct string, data []byte, a, b uint16) {
	whole := meterPieces(c, 200, ct, [][]byte{data})
	split := meterPieces(c, 200, ct, splits(data, a, b))
	if !bytes.Equal(whole.Client, split.Client) {
		t.Fatalf("%+v: split changed what the client got:\n%q\n%q", c, whole.Client, split.Client)
	}
	// Filter reports terminal per call, so compare whether it ever did.
	if diff := cmp.Diff(whole.Usage, split.Usage); diff != "" || (whole.Terminals > 0) != (split.Terminals > 0) {
		t.Fatalf("%+v: split changed the result (-whole +split):\n%s\nterminals %d, %d", c, diff, whole.Terminals, split.Terminals)
	}
	u := whole.Usage
	for _, n := range []int64{u.InputTokens, u.OutputTokens, u.CacheReadTokens, u.CacheWrite5mTokens, u.CacheWrite1hTokens} {
		if n < 0 || n > tokenCap {
			t.Fatalf("%+v: token count %d out of range", c, n)
		}
	}
	if !c.InjectedUsage || !bytes.Contains(data, []byte("usage")) {
		if !bytes.Equal(whole.Client, data) {
			t.Fatalf("%+v: the client got a changed body", c)
		}
	}
	if cost, _ := prices.Cost(c.Service, u); cost < 0 {
		t.Fatalf("negative cost %d", cost)
	}
}

func FuzzOpenAIChat(f *testing.F) {
	prices := DefaultPrices()
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		c := Call{Service: byok.OpenAI, Path: "/v1/chat/completions", Model: "gpt-4o", Stream: true}
		fuzzMeter(t, prices, c, ctJSON, data, a, b)
		fuzzMeter(t, prices, c, ctSSE, data, a, b)
		c.InjectedUsage = true
		fuzzMeter(t, prices, c, ctSSE, data, a, b)
	})
}

func FuzzOpenAIResponses(f *testing.F) {
	prices := DefaultPrices()
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		c := Call{Service: byok.OpenAI, Path: "/v1/responses", Model: "gpt-5"}
		fuzzMeter(t, prices, c, ctJSON, data, a, b)
		fuzzMeter(t, prices, c, ctSSE, data, a, b)
		fuzzMeter(t, prices, Call{Service: byok.OpenAI, Path: "/v1/embeddings"}, ctJSON, data, a, b)
		fuzzMeter(t, prices, Call{Service: byok.OpenAI, Path: "/v1/files/file-1/content"}, ctJSON, data, a, b)
	})
}

func FuzzAnthropic(f *testing.F) {
	prices := DefaultPrices()
	f.Fuzz(func(t *testing.T, data []byte, a, b uint16) {
		c := Call{Service: byok.Anthropic, Path: "/v1/messages", Model: "claude-sonnet-4-5"}
		fuzzMeter(t, prices, c, ctJSON, data, a, b)
		fuzzMeter(t, prices, c, ctSSE, data, a, b)
		fuzzMeter(t, prices, Call{Service: byok.Anthropic, Path: "/v1/messages/batches/b/results"}, ctJSON, data, a, b)
	})
}

func FuzzInspect(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		for _, svc := range []byok.Service{byok.Anthropic, byok.ClickUp} {
			if out, _, _ := Inspect(svc, "/v1/messages", body); !bytes.Equal(out, orig) {
				t.Fatalf("%s body changed", svc)
			}
		}
		if out, _, _ := Inspect(byok.OpenAI, "/v1/responses", body); !bytes.Equal(out, orig) {
			t.Fatalf("responses body changed")
		}
		out, c, err := Inspect(byok.OpenAI, "/v1/chat/completions", body)
		if !bytes.Equal(body, orig) {
			t.Fatalf("Inspect changed its input")
		}
		if err != nil {
			if !bytes.Equal(out, orig) {
				t.Fatalf("a refused body was changed: %q", out)
			}
			return
		}
		// What byokd read is what a parser that keeps the last of each
		// key, case-sensitive, reads (the providers' JSON into a map).
		var asParsed map[string]any
		if json.Unmarshal(orig, &asParsed) != nil {
			t.Fatalf("accepted a body a parser refuses: %q", orig)
		}
		if m, _ := asParsed["model"].(string); byok.CleanText(m, maxModel) != c.Model {
			t.Fatalf("model read as %q, a parser reads %q: %q", c.Model, m, orig)
		}
		if (asParsed["stream"] == true) != c.Stream {
			t.Fatalf("stream read as %v, a parser reads %v: %q", c.Stream, asParsed["stream"], orig)
		}
		if !c.InjectedUsage {
			if !bytes.Equal(out, orig) {
				t.Fatalf("body changed without InjectedUsage:\n%q\n%q", orig, out)
			}
			return
		}
		// The new body is the old one plus include_usage, nothing else.
		var in, got map[string]any
		dec := func(b []byte, v *map[string]any) error {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			return d.Decode(v)
		}
		if err := dec(orig, &in); err != nil {
			t.Fatalf("injected into invalid JSON %q: %v", orig, err)
		}
		if err := dec(out, &got); err != nil || !json.Valid(out) {
			t.Fatalf("spliced body is not JSON: %q", out)
		}
		so, _ := in["stream_options"].(map[string]any)
		if so == nil {
			so = map[string]any{}
		}
		so["include_usage"] = true
		in["stream_options"] = so
		if !reflect.DeepEqual(in, got) {
			t.Fatalf("splice changed more than include_usage:\n%q\n%q", orig, out)
		}
		if got["stream"] != true {
			t.Fatalf("injected into a request that does not stream: %q", orig)
		}
	})
}

// extractorTargets are the Responses paths, whose two-level targets and
// item counting exercise every part of the extractor; model's small max
// makes some values too long to keep.
var extractorTargets = []target{
	{k1: "model", max: 12}, {k1: "usage", max: maxUsageJSON}, {k1: "type", max: maxTypeJSON},
	{k1: "response", k2: "usage", max: maxUsageJSON}, {k1: "response", k2: "model", max: maxModelJSON},
}

// referenceExtract finds what the extractor should capture in a whole,
// valid JSON document with the package's whole-buffer scanner: the last
// value at each target path (none if longer than its max), and the count of
// "output" items whose "type" is "web_search_call", keys compared as
// written.
func referenceExtract(doc []byte) (vals [maxTargets]string, ok [maxTargets]bool, count int64) {
	top, isObj := newObjIter(doc, 0)
	if !isObj {
		return vals, ok, 0
	}
	set := func(i int, v []byte) {
		vals[i], ok[i] = string(v), len(v) <= extractorTargets[i].max
	}
	for m, more := top.next(); more; m, more = top.next() {
		k, v := string(m.key(doc)), m.value(doc)
		for i, t := range extractorTargets {
			if t.k2 == "" && t.k1 == k {
				set(i, v)
			}
		}
		if k == "response" {
			inner, _ := newObjIter(doc, m.valStart)
			for n, more := inner.next(); more; n, more = inner.next() {
				for i, t := range extractorTargets {
					if t.k1 == k && t.k2 == string(n.key(doc)) {
						set(i, n.value(doc))
					}
				}
			}
		}
		if k == "output" && len(v) > 0 && v[0] == '[' {
			count += countWebSearches(doc, m.valStart)
		}
	}
	return vals, ok, count
}

// countWebSearches counts the "type":"web_search_call" members of the
// objects in the valid array at doc[i].
func countWebSearches(doc []byte, i int) (n int64) {
	i = skipWS(doc, i+1)
	for i < len(doc) && doc[i] != ']' {
		end := skipValue(doc, i)
		if it, isObj := newObjIter(doc, i); isObj {
			for m, more := it.next(); more; m, more = it.next() {
				if string(m.key(doc)) == "type" && string(m.value(doc)) == `"web_search_call"` {
					n++
				}
			}
		}
		i = skipWS(doc, end)
		if i < len(doc) && doc[i] == ',' {
			i = skipWS(doc, i+1)
		}
	}
	return n
}

// extractPieces feeds pieces to an extractor of extractorTargets that
// counts web searches, and ends it.
func extractPieces(pieces [][]byte) *extractor {
	x := new(extractor)
	x.init(extractorTargets...)
	x.countItems("output", "web_search_call")
	for _, p := range pieces {
		x.write(p)
	}
	x.end()
	return x
}

// FuzzExtractor checks the streaming extractor against the whole-buffer
// scanner on valid documents, fed whole and in three pieces.
func FuzzExtractor(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte, a, b uint16) {
		if !json.Valid(doc) {
			return
		}
		want, wantOK, wantCount := referenceExtract(doc)
		for _, pieces := range [][][]byte{{doc}, splits(doc, a, b)} {
			x := extractPieces(pieces)
			for i := range extractorTargets {
				v, ok := x.value(i)
				if ok != wantOK[i] || (ok && string(v) != want[i]) {
					t.Fatalf("target %+v: got %q %v, reference %q %v", extractorTargets[i], v, ok, want[i], wantOK[i])
				}
			}
			if x.count != wantCount {
				t.Fatalf("counted %d web searches, reference %d", x.count, wantCount)
			}
		}
	})
}

// TestExtractor_WholeMembersAsByteByByte: a member read in one go (whole in
// the piece) leaves the extractor as reading it a byte at a time does, for
// malformed text too, where FuzzExtractor's reference does not reach: the
// captures, the members' spans and the count agree.
func TestExtractor_WholeMembersAsByteByByte(t *testing.T) {
	docs := []string{
		`{"id":"x","model":"gpt","usage":{"total":3},"type":"t"}`,
		` { "model" : "gpt" , "usage" : null , "id" : 1 } `,
		`{"id":"x""model":"gpt"}`,                 // no comma: the next string is no key
		`{"usage":{"a":1}"type":"t","model":"m"}`, // likewise after a captured member
		`{"id":1 "model":"m"}`,
		`{"mod\u0065l":"m","usag\"e":1,"usage":2}`,
		`{"a_key_longer_than_thirty_two_bytes_to_keep":{"usage":1},"usage":4}`,
		`{"response":{"usage":{"n":1},"model":"r"},"output":[{"type":"web_search_call"},{"type":"x"}],"type":"done"}`,
		`{"model":"this model name is too long to keep","usage":[1,2`,
		`{"type":"a","type":"b"}`,
		`{"model":}`,
		`{"model"`,
	}
	read := func(pieces [][]byte) string {
		x := extractPieces(pieces)
		var b strings.Builder
		for i := range extractorTargets {
			v, ok := x.value(i)
			from, to, spanned := x.span(i)
			fmt.Fprintf(&b, "%d: %q %v span %d-%d %v; ", i, v, ok, from, to, spanned)
		}
		fmt.Fprintf(&b, "count %d", x.count)
		return b.String()
	}
	for _, doc := range docs {
		var bytewise [][]byte
		for i := range len(doc) {
			bytewise = append(bytewise, []byte(doc[i:i+1]))
		}
		if whole, split := read([][]byte{[]byte(doc)}), read(bytewise); whole != split {
			t.Errorf("%s\nwhole:        %s\nbyte by byte: %s", doc, whole, split)
		}
	}
}
