package metering

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"slices"

	"byokd.dev/byok"
)

//go:embed prices.json
var defaultPricesJSON []byte

// DefaultPrices returns the built-in list prices (prices.json, embedded).
func DefaultPrices() *Prices {
	p, err := parsePrices("built-in prices.json", SourceBuiltIn, defaultPricesJSON, &Prices{})
	if err != nil {
		panic(err) // prices.json is checked by the tests
	}
	return p
}

// LoadPrices returns the built-in prices with the models in the file at path
// added or replaced. A missing file gives the built-in prices. The file has
// the shape of the built-in prices.json:
//
//	{"openai": {"gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10}},
//	 "anthropic": {"claude-sonnet-4-5": {"input": 3, "output": 15}}}
//
// Prices are USD per million tokens. input and output are required;
// cached_input defaults to input, cache_write_5m to 1.25 × input and
// cache_write_1h to 2 × input (Anthropic's ratios). An invalid file is an
// error naming the file and the line or the model and field at fault.
func LoadPrices(path string) (*Prices, error) {
	def := DefaultPrices()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return def, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read prices: %w", err)
	}
	return parsePrices(path, path, data, def)
}

// SourceBuiltIn is the source of the prices byokd ships with.
const SourceBuiltIn = "built-in"

// With returns p with the models of the price file data (named name in
// errors) added or replaced, each noted as coming from source.
func (p *Prices) With(name, source string, data []byte) (*Prices, error) {
	return parsePrices(name, source, data, p)
}

// priceEntry is one model in a price file; nil means absent.
type priceEntry struct {
	Input        *float64                      `json:"input"`
	CachedInput  *float64                      `json:"cached_input"`
	CacheWrite5m *float64                      `json:"cache_write_5m"`
	CacheWrite1h *float64                      `json:"cache_write_1h"`
	Output       *float64                      `json:"output"`
	AudioInput   *float64                      `json:"audio_input"`
	AudioOutput  *float64                      `json:"audio_output"`
	WebSearch    *float64                      `json:"web_search_per_1000"`
	ImageInput   *float64                      `json:"image_input"`
	LongContext  *longEntry                    `json:"long_context"`
	Multipliers  map[string]map[string]float64 `json:"multipliers"`
}

// longEntry is a model's long-context price in a price file.
type longEntry struct {
	Above int64 `json:"above_prompt_tokens"`
	priceEntry
}

// multiplierDims are the dimensions a multiplier may scale by.
var multiplierDims = map[string]bool{"service_tier": true, "inference_geo": true, "speed": true}

// parsePrices reads a price file over a copy of base.
func parsePrices(name, source string, data []byte, base *Prices) (*Prices, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var file map[string]map[string]priceEntry
	if err := dec.Decode(&file); err != nil {
		return nil, priceFileError(name, data, dec, err)
	}
	if dec.More() {
		line, _ := position(data, int(dec.InputOffset()))
		return nil, fmt.Errorf("read prices %s: line %d: extra data after the JSON object; fix the file or remove it to use the built-in prices", name, line)
	}
	p := &Prices{models: map[byok.Service]map[string]rate{}, source: map[byok.Service]map[string]string{}}
	for svc, t := range base.models {
		p.models[svc] = maps.Clone(t)
		p.source[svc] = maps.Clone(base.source[svc])
	}
	for _, s := range slices.Sorted(maps.Keys(file)) {
		svc, err := byok.ParseService(s)
		if err != nil || svc == byok.ClickUp {
			return nil, fmt.Errorf("read prices %s: unknown section %q: use \"openai\" or \"anthropic\"", name, s)
		}
		if p.models[svc] == nil {
			p.models[svc] = map[string]rate{}
			p.source[svc] = map[string]string{}
		}
		for _, model := range slices.Sorted(maps.Keys(file[s])) {
			if model == "" {
				return nil, fmt.Errorf("read prices %s: %s: a model name is empty", name, s)
			}
			pr, err := file[s][model].price()
			if err != nil {
				return nil, fmt.Errorf("read prices %s: %s model %q: %w", name, s, model, err)
			}
			p.models[svc][model] = rateOf(pr)
			p.source[svc][model] = source
		}
	}
	return p, nil
}

// price checks e and fills in defaults.
func (e priceEntry) price() (Price, error) {
	check := func(field string, v *float64, def float64) (float64, error) {
		if v == nil {
			return def, nil
		}
		if math.IsNaN(*v) || *v < 0 || *v > maxPrice {
			return 0, fmt.Errorf("%s: %v is not a price; give US dollars per million tokens, from 0 to %d", field, *v, maxPrice)
		}
		return *v, nil
	}
	if e.Input == nil || e.Output == nil {
		return Price{}, errors.New(`"input" and "output" are required (US dollars per million tokens)`)
	}
	var p Price
	var err error
	if p.Input, err = check("input", e.Input, 0); err != nil {
		return Price{}, err
	}
	if p.Output, err = check("output", e.Output, 0); err != nil {
		return Price{}, err
	}
	if p.CachedInput, err = check("cached_input", e.CachedInput, p.Input); err != nil {
		return Price{}, err
	}
	if p.CacheWrite5m, err = check("cache_write_5m", e.CacheWrite5m, p.Input*1.25); err != nil {
		return Price{}, err
	}
	if p.CacheWrite1h, err = check("cache_write_1h", e.CacheWrite1h, p.Input*2); err != nil {
		return Price{}, err
	}
	if p.AudioInput, err = check("audio_input", e.AudioInput, 0); err != nil {
		return Price{}, err
	}
	if p.AudioOutput, err = check("audio_output", e.AudioOutput, 0); err != nil {
		return Price{}, err
	}
	if p.WebSearch, err = check("web_search_per_1000", e.WebSearch, 0); err != nil {
		return Price{}, err
	}
	if p.ImageInput, err = check("image_input", e.ImageInput, 0); err != nil {
		return Price{}, err
	}
	if l := e.LongContext; l != nil {
		if l.LongContext != nil || l.Multipliers != nil || l.AudioInput != nil || l.AudioOutput != nil || l.WebSearch != nil || l.ImageInput != nil {
			return Price{}, errors.New("long_context: holds prices only")
		}
		if l.Above <= 0 {
			return Price{}, errors.New("long_context: above_prompt_tokens must be a positive token count")
		}
		lp, err := l.priceEntry.price()
		if err != nil {
			return Price{}, fmt.Errorf("long_context: %w", err)
		}
		p.LongContext = &LongContext{l.Above, lp.Input, lp.CachedInput, lp.CacheWrite5m, lp.CacheWrite1h, lp.Output}
	}
	for dim, vals := range e.Multipliers {
		if !multiplierDims[dim] {
			return Price{}, fmt.Errorf("multipliers: unknown dimension %q: use service_tier, inference_geo or speed", dim)
		}
		for v, m := range vals {
			if math.IsNaN(m) || m <= 0 || m > 100 {
				return Price{}, fmt.Errorf("multipliers: %s %q: %v is not a multiplier (above 0, at most 100)", dim, v, m)
			}
		}
	}
	p.Multipliers = e.Multipliers
	return p, nil
}

// priceFileError says where in the file decoding failed.
func priceFileError(name string, data []byte, dec *json.Decoder, err error) error {
	off := int(dec.InputOffset())
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = int(se.Offset) - 1 // Offset is just past the bad byte
	case errors.As(err, &te):
		off = int(te.Offset)
		line, _ := position(data, off)
		return fmt.Errorf("read prices %s: line %d: %s must be %s, not %s; fix the file or remove it to use the built-in prices", name, line, te.Field, describeType(te.Type.String()), te.Value)
	}
	line, col := position(data, off)
	return fmt.Errorf("read prices %s: line %d, column %d: %v; fix the file or remove it to use the built-in prices", name, line, col, err)
}

func describeType(t string) string {
	switch t {
	case "float64":
		return "a number (US dollars per million tokens)"
	case "map[string]metering.priceEntry":
		return "an object of models"
	case "metering.priceEntry":
		return "an object of prices"
	}
	return "an object"
}

// position converts a byte offset to a 1-based line and column.
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
