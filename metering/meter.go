package metering

import (
	"strings"

	"byokd.dev/byok"
)

// Capture slots: each format puts the members it needs in these.
const (
	slotModel = 0 // model, response.model or message.model
	slotUsage = 1 // usage or response.usage
	slotType  = 2 // the event's type
	slotExtra = 3 // chat: choices (when filtering); Anthropic: message.usage
	slotTier  = 4 // OpenAI: service_tier or response.service_tier
)

// Value caps per slot: usage objects are a few hundred bytes, and a choices
// array matters only when it is empty.
const (
	maxModelJSON = 512
	maxUsageJSON = 64 << 10
	maxTypeJSON  = 64
	maxChoices   = 64
	maxTierJSON  = 64
)

// maxHeld bounds the partial event a filtering Meter holds back. A longer
// event (OpenAI's are a few hundred bytes) makes it stop filtering and pass
// the rest of the stream through unchanged.
const maxHeld = 1 << 20

// Meter observes one response as it streams to the client: it reads usage
// from JSON bodies and event streams without keeping the body, and, for a
// call whose usage report Inspect asked for, hides that report from the
// client. Create it with NewMeter; not safe for concurrent use.
type Meter struct {
	format format
	sse    bool
	off    bool // nothing to read: an error status or an unmetered path
	filter bool // hiding the usage report the client did not ask for

	u    byok.Usage
	anth anthropicUsage
	x    extractor
	sp   sseParser

	batch   *batchResults // a batch's results file, else nil
	flushed bool

	held   []byte // the partial event being held back (filter)
	out    []byte // what Filter returns when filtering
	dropLF bool   // a dropped event ended in \r: drop a \n that follows
}

// NewMeter starts metering the response to c with the given HTTP status and
// Content-Type. Error responses (status outside 2xx) and unmetered paths
// (model lists, count_tokens) consume no tokens; their Usage is complete at
// once. ClickUp calls count one request each, whatever the status.
func NewMeter(c Call, status int, contentType string) *Meter {
	m := &Meter{format: formatOf(c.Service, c.Path)}
	m.u.Model = c.Model
	switch {
	case m.format == formatClickUp:
		m.u.Requests, m.u.Complete, m.off = 1, true, true
	case m.format == formatNone || status < 200 || status > 299:
		m.u.Complete, m.off = true, true
	}
	if m.off {
		return m
	}
	if m.format == formatBatch {
		m.batch = &batchResults{svc: c.Service}
		return m
	}
	if ct := strings.TrimSpace(contentType); ct != "" {
		m.sse = len(ct) >= 17 && strings.EqualFold(ct[:17], "text/event-stream")
	} else {
		m.sse = c.Stream
	}
	m.sp.x = &m.x
	usage := target{k1: "usage", max: maxUsageJSON}
	tier := target{k1: "service_tier", max: maxTierJSON}
	switch {
	case !m.sse:
		m.x.init(target{k1: "model", max: maxModelJSON}, usage, target{}, target{}, tier)
		if m.format == formatResponses {
			// Hosted web searches are billed per call; the usage object
			// does not count them, the output lists one item per search.
			m.x.countItems("output", "web_search_call")
		}
	case m.format == formatChat:
		m.filter = c.InjectedUsage
		// The choices are read only to drop the usage chunk the client
		// did not ask for; capturing them otherwise costs every chunk.
		var choices target
		if m.filter {
			choices = target{k1: "choices", max: maxChoices}
		}
		m.x.init(target{k1: "model", max: maxModelJSON}, usage, target{}, choices, tier)
	case m.format == formatResponses:
		m.x.init(target{k1: "response", k2: "model", max: maxModelJSON},
			target{k1: "response", k2: "usage", max: maxUsageJSON},
			target{k1: "type", max: maxTypeJSON}, target{},
			target{k1: "response", k2: "service_tier", max: maxTierJSON})
	case m.format == formatAnthropic:
		m.x.init(target{k1: "message", k2: "model", max: maxModelJSON}, usage,
			target{k1: "type", max: maxTypeJSON},
			target{k1: "message", k2: "usage", max: maxUsageJSON})
	default: // embeddings never stream
		m.x.init()
	}
	return m
}

// Filter is fed the upstream body in order and returns the bytes to forward
// to the client now. Unless it is hiding an injected usage report it returns
// p itself. When hiding one (an OpenAI chat stream with Call.InjectedUsage)
// it forwards whole events only: it drops the usage-only chunk and removes
// the "usage":null member OpenAI adds to every other chunk, so the client
// gets the stream it would have got without asking; the returned slice is
// then only valid until the next call. terminal is true when out holds the
// provider's end-of-response event (OpenAI chat "data: [DONE]"; Responses
// response.completed, response.incomplete or response.failed; Anthropic
// message_stop, or an error event, after which Anthropic sends nothing).
func (m *Meter) Filter(p []byte) (out []byte, terminal bool) {
	switch {
	case m.off:
		return p, false
	case m.batch != nil:
		m.batch.write(p)
		return p, false
	case !m.sse:
		m.x.write(p)
		return p, false
	case m.filter:
		return m.filterEvents(p)
	}
	return p, m.scan(p)
}

// Flush ends the body and returns anything still held back (a last partial
// event). A last event that lacks its closing blank line still counts for
// usage. Only the first call does anything.
func (m *Meter) Flush() []byte {
	if m.flushed {
		return nil
	}
	m.flushed = true
	switch {
	case m.off:
		return nil
	case m.batch != nil:
		m.batch.endLine()
		return nil
	case !m.sse:
		m.x.end()
		return nil
	}
	ended, drop := m.sp.end(), false
	if ended {
		_, drop = m.event()
	}
	if !m.filter || len(m.held) == 0 {
		return nil
	}
	m.out = m.out[:0]
	switch {
	case drop:
	case ended:
		m.out = m.forward(m.out, m.held)
	default:
		m.out = append(m.out, m.held...)
	}
	m.held = m.held[:0]
	return m.out
}

// Usage returns what was seen so far. Complete is true only once the
// provider's final usage report was seen.
func (m *Meter) Usage() byok.Usage {
	if m.batch != nil {
		u := m.batch.usage(m.flushed)
		if u.Model == "" {
			u.Model = m.u.Model
		}
		return u
	}
	if !m.off && !m.sse {
		m.readJSON()
	}
	return m.u
}

// Parts is a batch's results usage by model, or nil for any other call.
// Its cost is the sum of theirs (Prices.CostAll).
func (m *Meter) Parts() []byok.Usage {
	if m.batch == nil {
		return nil
	}
	return m.batch.parts
}

// readJSON reads the model and usage captured from a JSON body.
func (m *Meter) readJSON() {
	m.setModel(slotModel)
	v, ok := m.x.value(slotUsage)
	if !ok {
		return
	}
	if m.format == formatAnthropic {
		var a anthropicUsage
		if a.merge(v) {
			a.apply(&m.u)
			m.u.Complete = true
		}
		return
	}
	m.setOpenAIUsage(v)
	m.setTier()
	m.u.WebSearches = m.x.count
}

// setTier takes OpenAI's service_tier, if the slot holds one.
func (m *Meter) setTier() {
	if v, ok := m.x.value(slotTier); ok {
		setString(&m.u.ServiceTier, v)
	}
}

// setOpenAIUsage stores an OpenAI usage object, if v is one.
func (m *Meter) setOpenAIUsage(v []byte) bool {
	c, ok := openAIUsage(v)
	if !ok {
		return false
	}
	m.u.InputTokens, m.u.CacheReadTokens, m.u.OutputTokens = c.input, c.cached, c.output
	m.u.AudioInputTokens, m.u.AudioOutputTokens, m.u.ImageInputTokens = c.audioIn, c.audioOut, c.imageIn
	m.u.Complete = true
	return true
}

// setModel takes the model named in the response, if the slot holds one.
func (m *Meter) setModel(slot int) {
	v, ok := m.x.value(slot)
	if !ok || len(v) < 3 || v[0] != '"' || string(v[1:len(v)-1]) == m.u.Model {
		return
	}
	if s := decodeString(v); s != "" {
		m.u.Model = s
	}
}

// scan parses p without changing it and reports whether it ended the
// response.
func (m *Meter) scan(p []byte) (terminal bool) {
	for len(p) > 0 {
		n, boundary := m.sp.next(p)
		p = p[n:]
		if boundary {
			t, _ := m.event()
			terminal = terminal || t
		}
	}
	return terminal
}

// event reads the event the parser just ended. It reports whether the event
// ends the response, and whether a filter should drop it (the usage-only
// chunk of an OpenAI chat stream).
func (m *Meter) event() (terminal, drop bool) {
	if m.sp.dataLines == 0 {
		return false, false
	}
	switch m.format {
	case formatChat:
		if m.sp.isDone() {
			return true, false
		}
		m.setModel(slotModel)
		m.setTier()
		if v, ok := m.x.value(slotUsage); ok && m.setOpenAIUsage(v) && m.filter {
			c, ok := m.x.value(slotExtra)
			drop = ok && isEmptyArray(c)
		}
	case formatResponses:
		m.setModel(slotModel)
		switch string(m.eventType()) {
		case "response.web_search_call.completed":
			m.u.WebSearches++
		case "response.completed", "response.incomplete", "response.failed":
			if v, ok := m.x.value(slotUsage); ok {
				m.setOpenAIUsage(v)
			}
			m.setTier()
			m.u.Complete = true
			terminal = true
		}
	case formatAnthropic:
		switch string(m.eventType()) {
		case "message_start":
			m.setModel(slotModel)
			if v, ok := m.x.value(slotExtra); ok && m.anth.merge(v) {
				m.anth.apply(&m.u)
			}
		case "message_delta":
			if v, ok := m.x.value(slotUsage); ok && m.anth.merge(v) {
				m.anth.apply(&m.u)
				m.u.Complete = true
			}
		case "message_stop", "error":
			terminal = true
		}
	}
	return terminal, drop
}

// eventType is the event's data "type", or else its event field.
func (m *Meter) eventType() []byte {
	if v, ok := m.x.value(slotType); ok && len(v) >= 2 && v[0] == '"' {
		return v[1 : len(v)-1]
	}
	return m.sp.name.bytes()
}
