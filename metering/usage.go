package metering

import (
	"bytes"

	"byokd.dev/byok"
)

// This file reads the providers' usage objects, once captured whole.

// openAIUsage reads an OpenAI usage object: chat completions and embeddings
// name its fields prompt_tokens / completion_tokens /
// prompt_tokens_details.cached_tokens, the Responses API input_tokens /
// output_tokens / input_tokens_details.cached_tokens. Input excludes cached
// tokens, as byok.Usage counts them. ok is false if obj is not an object.
func openAIUsage(obj []byte) (u openAICounts, ok bool) {
	it, ok := newObjIter(obj, 0)
	if !ok {
		return u, false
	}
	var input int64
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		v := m.value(obj)
		switch string(m.key(obj)) {
		case "prompt_tokens", "input_tokens":
			input, _ = parseCount(v)
		case "completion_tokens", "output_tokens":
			u.output, _ = parseCount(v)
		case "prompt_tokens_details", "input_tokens_details":
			eachCount(v, func(k string, n int64) {
				switch k {
				case "cached_tokens":
					u.cached = n
				case "audio_tokens":
					u.audioIn = n
				case "image_tokens":
					u.imageIn = n
				}
			})
		case "completion_tokens_details", "output_tokens_details":
			eachCount(v, func(k string, n int64) {
				if k == "audio_tokens" {
					u.audioOut = n
				}
			})
		}
	}
	u.input = max(input-u.cached, 0)
	u.audioIn = min(u.audioIn, u.input) // cached audio is billed as cached input
	u.imageIn = min(u.imageIn, u.input-u.audioIn)
	return u, true
}

// openAICounts is what an OpenAI usage object says: input excludes the
// cached tokens; the audio counts are part of input and output.
type openAICounts struct{ input, cached, output, audioIn, audioOut, imageIn int64 }

// eachCount calls f with each numeric member of the object v.
func eachCount(v []byte, f func(key string, n int64)) {
	d, ok := newObjIter(v, 0)
	for ok {
		var dm member
		if dm, ok = d.next(); ok {
			if n, isNum := parseCount(dm.value(v)); isNum {
				f(string(dm.key(v)), n)
			}
		}
	}
}

// anthropicUsage accumulates Anthropic usage objects: message_start's, then
// message_delta's, whose fields (when present) replace earlier ones.
type anthropicUsage struct {
	input, output, cacheRead, cacheCreate int64
	write5m, write1h                      int64
	split                                 bool // cache_creation said how writes split by duration
	tier, geo, speed                      string
	searches                              int64
}

// merge reads one usage object over the current counts; fields absent or
// null keep their values. It reports whether obj was an object.
func (a *anthropicUsage) merge(obj []byte) bool {
	it, ok := newObjIter(obj, 0)
	if !ok {
		return false
	}
	for {
		m, ok := it.next()
		if !ok {
			break
		}
		v := m.value(obj)
		switch string(m.key(obj)) {
		case "input_tokens":
			setCount(&a.input, v)
		case "output_tokens":
			setCount(&a.output, v)
		case "cache_read_input_tokens":
			setCount(&a.cacheRead, v)
		case "cache_creation_input_tokens":
			setCount(&a.cacheCreate, v)
		case "server_tool_use":
			eachCount(v, func(k string, n int64) {
				if k == "web_search_requests" {
					a.searches = n
				}
			})
		case "service_tier":
			setString(&a.tier, v)
		case "inference_geo":
			setString(&a.geo, v)
		case "speed":
			setString(&a.speed, v)
		case "cache_creation":
			d, ok := newObjIter(v, 0)
			for ok {
				var dm member
				if dm, ok = d.next(); !ok {
					break
				}
				switch string(dm.key(v)) {
				case "ephemeral_5m_input_tokens":
					a.split = setCount(&a.write5m, dm.value(v)) || a.split
				case "ephemeral_1h_input_tokens":
					a.split = setCount(&a.write1h, dm.value(v)) || a.split
				}
			}
		}
	}
	return true
}

// setString stores the string in v, if v is one: a tier, region or speed,
// kept only where it is not the default that list prices are for.
func setString(dst *string, v []byte) {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		// Every chunk of a stream repeats the value: compare before
		// decoding (the conversions in the comparisons do not allocate).
		switch raw := v[1 : len(v)-1]; string(raw) {
		case *dst:
			return
		case "default", "standard", "auto", "global", "not_available":
			*dst = ""
			return
		}
	}
	switch s := decodeString(v); s {
	case "":
	case "default", "standard", "auto", "global", "not_available":
		*dst = ""
	default:
		*dst = s
	}
}

// setCount stores the count in v, if v is a number, and reports whether it was.
func setCount(dst *int64, v []byte) bool {
	n, ok := parseCount(v)
	if ok {
		*dst = n
	}
	return ok
}

// apply writes the counts into u. Without a duration split every cache
// write counts as a 5-minute one; with it, any writes the split leaves out
// count as 5-minute ones too.
func (a *anthropicUsage) apply(u *byok.Usage) {
	u.InputTokens, u.OutputTokens, u.CacheReadTokens = a.input, a.output, a.cacheRead
	u.ServiceTier, u.InferenceGeo, u.Speed = a.tier, a.geo, a.speed
	u.WebSearches = a.searches
	if !a.split {
		u.CacheWrite5mTokens, u.CacheWrite1hTokens = a.cacheCreate, 0
		return
	}
	u.CacheWrite5mTokens, u.CacheWrite1hTokens = a.write5m, a.write1h
	if rest := a.cacheCreate - a.write5m - a.write1h; rest > 0 {
		u.CacheWrite5mTokens += rest
	}
}
