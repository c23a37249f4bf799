package metering

import (
	"maps"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"

	"byokd.dev/byok"
)

// Price is a model's list price in US dollars per million tokens, which is
// the same number as micro-USD per token.
type Price struct {
	Input        float64 `json:"input"`
	CachedInput  float64 `json:"cached_input"`   // cache reads (OpenAI cached input, Anthropic cache hits)
	CacheWrite5m float64 `json:"cache_write_5m"` // 5-minute cache writes (Anthropic; OpenAI's cache writes)
	CacheWrite1h float64 `json:"cache_write_1h"` // Anthropic 1-hour cache writes
	Output       float64 `json:"output"`
	// AudioInput and AudioOutput price audio tokens; zero means the model
	// takes none, so audio tokens make a call's cost unknown.
	AudioInput  float64 `json:"audio_input,omitempty"`
	AudioOutput float64 `json:"audio_output,omitempty"`
	// WebSearch is US dollars per 1,000 server-side web searches.
	WebSearch float64 `json:"web_search_per_1000,omitempty"`
	// ImageInput prices image input tokens (image models); zero: none taken.
	ImageInput float64 `json:"image_input,omitempty"`
	// LongContext, if set, prices every token of a call whose prompt
	// (input, cache reads and writes) is over Above tokens.
	LongContext *LongContext `json:"long_context,omitempty"`
	// Multipliers scale the whole call by what the provider reports it
	// served: by dimension ("service_tier", "inference_geo", "speed"),
	// then value ("priority": 2, "flex": 0.5, "us": 1.1, "fast": 2). A
	// reported value the table does not list (other than the default:
	// "default", "standard", "auto", "global") makes the cost unknown.
	Multipliers map[string]map[string]float64 `json:"multipliers,omitempty"`
}

// LongContext is a model's price above a prompt length.
type LongContext struct {
	Above        int64   `json:"above_prompt_tokens"`
	Input        float64 `json:"input"`
	CachedInput  float64 `json:"cached_input"`
	CacheWrite5m float64 `json:"cache_write_5m"`
	CacheWrite1h float64 `json:"cache_write_1h"`
	Output       float64 `json:"output"`
}

// maxPrice is the highest price accepted, in USD per million tokens. With
// token counts capped at tokenCap it keeps every cost within int64.
const maxPrice = 1_000_000

// rate is a Price in micro-USD per million tokens, so that cost arithmetic
// is exact in integers.
type rate struct {
	input, cached, write5m, write1h, output int64
	audioIn, audioOut, imageIn, search      int64 // search: micro-USD per million searches
	long                                    *longRate
	mult                                    map[string]map[string]float64
}

type longRate struct {
	above                                   int64
	input, cached, write5m, write1h, output int64
}

func micro(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

func rateOf(p Price) rate {
	r := rate{input: micro(p.Input), cached: micro(p.CachedInput), write5m: micro(p.CacheWrite5m),
		write1h: micro(p.CacheWrite1h), output: micro(p.Output), mult: p.Multipliers,
		audioIn: micro(p.AudioInput), audioOut: micro(p.AudioOutput), imageIn: micro(p.ImageInput), search: micro(p.WebSearch * 1000)}
	if l := p.LongContext; l != nil {
		r.long = &longRate{l.Above, micro(l.Input), micro(l.CachedInput), micro(l.CacheWrite5m), micro(l.CacheWrite1h), micro(l.Output)}
	}
	return r
}

func (r rate) price() Price {
	f := func(m int64) float64 { return float64(m) / 1e6 }
	p := Price{Input: f(r.input), CachedInput: f(r.cached), CacheWrite5m: f(r.write5m), CacheWrite1h: f(r.write1h),
		Output: f(r.output), Multipliers: r.mult, AudioInput: f(r.audioIn), AudioOutput: f(r.audioOut), ImageInput: f(r.imageIn), WebSearch: f(r.search) / 1000}
	if l := r.long; l != nil {
		p.LongContext = &LongContext{l.above, f(l.input), f(l.cached), f(l.write5m), f(l.write1h), f(l.output)}
	}
	return p
}

// served is the rate of a call as the provider served it: the long-context
// rate past its prompt length, scaled by each multiplier the usage reports.
// ok is false for a reported tier, region or speed the table does not price.
func (r rate) served(u byok.Usage, prompt int64) (rate, bool) {
	out := r
	if l := r.long; l != nil && prompt > l.above {
		out.input, out.cached, out.write5m, out.write1h, out.output = l.input, l.cached, l.write5m, l.write1h, l.output
	}
	// In a fixed order, so that the roundings of several multipliers are
	// always the same.
	for _, d := range [...]struct{ dim, v string }{
		{"service_tier", u.ServiceTier}, {"inference_geo", u.InferenceGeo}, {"speed", u.Speed},
	} {
		dim, v := d.dim, d.v
		if v == "" {
			continue // the default: list prices
		}
		m, ok := r.mult[dim][v]
		if !ok && dim == "service_tier" && v == "batch" {
			// Both providers bill every model's batches at half its
			// list price; a table may still say otherwise.
			m, ok = BatchMultiplier, true
		}
		if !ok {
			return rate{}, false
		}
		scale := func(x int64) int64 { return int64(math.Round(float64(x) * m)) }
		out.input, out.cached, out.write5m, out.write1h, out.output =
			scale(out.input), scale(out.cached), scale(out.write5m), scale(out.write1h), scale(out.output)
		out.audioIn, out.audioOut, out.imageIn = scale(out.audioIn), scale(out.audioOut), scale(out.imageIn)
	}
	return out, true
}

// BatchMultiplier scales the price of a call served in a batch
// (service_tier "batch") where the table names no batch rate.
const BatchMultiplier = 0.5

// Estimates.
const (
	// EstimateOutputTokens is the output Estimate assumes when a request
	// sets no limit.
	EstimateOutputTokens = 8192
	// EstimateMaxOutputTokens caps the output Estimate assumes, whatever
	// limit a request sets: no current model writes more in one response.
	EstimateMaxOutputTokens = 128_000
	// EstimateBytesPerToken is the request bytes Estimate counts as one
	// input token; real text runs about four, so this overestimates.
	EstimateBytesPerToken = 3
	// EstimateInputPrice and EstimateOutputPrice (USD per million tokens)
	// price a model missing from the table, above every common model.
	EstimateInputPrice  = 15
	EstimateOutputPrice = 120
)

// Prices is a price table: per service, per model. Look-up is exact, else
// the longest table key that the model name extends with "-" and a date or
// "latest" ("gpt-4o-2024-08-06" is priced as "gpt-4o",
// "claude-sonnet-4-5-20250929" as "claude-sonnet-4-5"). A named variant
// ("gpt-4o-audio-preview", "gpt-5-codex") or a new version
// ("claude-opus-4-6" after "claude-opus-4") never takes its base model's
// price: the provider prices them apart, so they are "cost unknown" until
// the table lists them. A Prices is read-only once made and safe for
// concurrent use.
type Prices struct {
	models map[byok.Service]map[string]rate
	source map[byok.Service]map[string]string // where each model's price came from
}

// Listed is one model's price and where it came from.
type Listed struct {
	Service byok.Service `json:"service"`
	Model   string       `json:"model"`
	Price   Price        `json:"price"`
	Source  string       `json:"source"` // "built-in", "team hub (version 3)", a file's path
}

// List is every model's price, by service and model.
func (p *Prices) List() []Listed {
	var out []Listed
	for _, svc := range byok.Services() {
		for _, m := range slices.Sorted(maps.Keys(p.models[svc])) {
			out = append(out, Listed{Service: svc, Model: m, Price: p.models[svc][m].price(), Source: p.source[svc][m]})
		}
	}
	return out
}

// Book holds the prices in force, which a price update replaces while
// calls read them. Safe for concurrent use.
type Book struct{ p atomic.Pointer[Prices] }

// NewBook returns a Book holding p.
func NewBook(p *Prices) *Book {
	b := &Book{}
	b.p.Store(p)
	return b
}

// Prices is the table in force.
func (b *Book) Prices() *Prices { return b.p.Load() }

// Set puts p in force.
func (b *Book) Set(p *Prices) { b.p.Store(p) }

// Lookup returns the price of model and the table key that matched.
func (p *Prices) Lookup(svc byok.Service, model string) (Price, string, bool) {
	r, key, ok := p.lookup(svc, model)
	if !ok {
		return Price{}, "", false
	}
	return r.price(), key, true
}

func (p *Prices) lookup(svc byok.Service, model string) (rate, string, bool) {
	t := p.models[svc]
	if r, ok := t[model]; ok {
		return r, model, true
	}
	for i := len(model) - 1; i > 0; i-- {
		if model[i] != '-' || !isDateSuffix(model[i+1:]) {
			continue
		}
		if r, ok := t[model[:i]]; ok {
			return r, model[:i], true
		}
	}
	return rate{}, "", false
}

// isDateSuffix reports whether s names a snapshot of its base model, not
// another model: a date ("20250929", "2024-08-06", "0613"), "latest", or
// nothing.
func isDateSuffix(s string) bool {
	digits := func(s string) bool {
		for _, c := range []byte(s) {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case s == "" || s == "latest":
		return true
	case len(s) == 8 || len(s) == 4:
		return digits(s)
	case len(s) == 10:
		return digits(s[:4]) && s[4] == '-' && digits(s[5:7]) && s[7] == '-' && digits(s[8:])
	}
	return false
}

// Cost prices u. It returns false ("cost unknown") when the model is not in
// the table and u has tokens; never a silent $0. ClickUp calls and usage
// without tokens (errors, model lists) cost 0, known. Token counts are
// clamped to [0, 1e12], the arithmetic is exact in integers, and the result
// is rounded half up to the micro-dollar once.
func (p *Prices) Cost(svc byok.Service, u byok.Usage) (byok.Micros, bool) {
	in, out := clampTokens(u.InputTokens), clampTokens(u.OutputTokens)
	cr, w5, w1 := clampTokens(u.CacheReadTokens), clampTokens(u.CacheWrite5mTokens), clampTokens(u.CacheWrite1hTokens)
	ain, aout := min(clampTokens(u.AudioInputTokens), in), min(clampTokens(u.AudioOutputTokens), out)
	iin := min(clampTokens(u.ImageInputTokens), in-ain)
	searches := clampTokens(u.WebSearches)
	if svc == byok.ClickUp || in|out|cr|w5|w1|searches == 0 {
		return 0, true
	}
	r, _, ok := p.lookup(svc, u.Model)
	if !ok {
		return 0, false
	}
	if r.long != nil || u.ServiceTier != "" || u.InferenceGeo != "" || u.Speed != "" {
		if r, ok = r.served(u, in+cr+w5+w1); !ok {
			return 0, false
		}
	}
	if (ain > 0 && r.audioIn == 0) || (aout > 0 && r.audioOut == 0) || (iin > 0 && r.imageIn == 0) || (searches > 0 && r.search == 0) {
		return 0, false // billed by a rate the table does not have
	}
	var a acc
	a.add(in-ain-iin, r.input)
	a.add(ain, r.audioIn)
	a.add(iin, r.imageIn)
	a.add(cr, r.cached)
	a.add(w5, r.write5m)
	a.add(w1, r.write1h)
	a.add(out-aout, r.output)
	a.add(aout, r.audioOut)
	a.add(searches, r.search)
	return a.micros(1e6 / 2), true
}

// CostAll is the cost of several models' usage, as of one batch's results:
// the sum, known only if each part's is.
func (p *Prices) CostAll(svc byok.Service, parts []byok.Usage) (byok.Micros, bool) {
	var sum byok.Micros
	for _, u := range parts {
		c, ok := p.Cost(svc, u)
		if !ok {
			return 0, false
		}
		sum += c
	}
	return sum, true
}

// Priced reports whether c's cost can be known before it is sent: its
// endpoint costs nothing, or its model has a price.
func (p *Prices) Priced(c Call) bool {
	switch formatOf(c.Service, c.Path) {
	case formatNone, formatClickUp:
		return true
	}
	_, _, ok := p.lookup(c.Service, c.Model)
	return ok
}

// Estimate is an upper bound on what c will cost, for reserving budget
// before sending it: InputBytes/EstimateBytesPerToken input tokens at the
// input price, plus the request's output limit (EstimateOutputTokens if it
// sets none, at most EstimateMaxOutputTokens) at the output price. A model
// missing from the table is priced at EstimateInputPrice and
// EstimateOutputPrice. Calls that are not metered estimate 0, and so does
// a batch's results download: the batch was spent when it ran, and its
// file says for how much. Rounded up.
func (p *Prices) Estimate(c Call) byok.Micros {
	switch formatOf(c.Service, c.Path) {
	case formatNone, formatClickUp, formatBatch:
		return 0
	}
	r, _, ok := p.lookup(c.Service, c.Model)
	if !ok {
		r = rate{input: EstimateInputPrice * 1e6, output: EstimateOutputPrice * 1e6}
	}
	b := int64(max(c.InputBytes, 0))
	in := b / EstimateBytesPerToken
	if b%EstimateBytesPerToken != 0 {
		in++
	}
	in = clampTokens(in)
	out := c.MaxTokens
	switch {
	case out <= 0:
		out = EstimateOutputTokens
	case out > EstimateMaxOutputTokens:
		out = EstimateMaxOutputTokens
	}
	var a acc
	a.add(in, r.input)
	a.add(out, r.output)
	return a.micros(1e6 - 1)
}

func clampTokens(n int64) int64 { return min(max(n, 0), tokenCap) }

// acc is a 128-bit sum of tokens × micro-USD-per-million products.
type acc struct{ hi, lo uint64 }

func (a *acc) add(tokens, price int64) {
	h, l := bits.Mul64(uint64(tokens), uint64(price))
	var c uint64
	a.lo, c = bits.Add64(a.lo, l, 0)
	a.hi += h + c
}

// micros divides the sum by one million after adding bias (1e6/2 rounds
// half up, 1e6-1 rounds up).
func (a acc) micros(bias uint64) byok.Micros {
	lo, c := bits.Add64(a.lo, bias, 0)
	hi := a.hi + c
	if hi >= 1e6 { // beyond int64 micro-dollars: impossible within the caps
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, 1e6)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return byok.Micros(q)
}
