package metering

import "bytes"

// This file holds the incremental server-sent events parser. It follows the
// WHATWG event-stream rules: lines end in \n, \r\n or \r; a line starting with
// ':' is a comment; "field: value" drops one space after the colon; data
// lines of one event are joined with \n; a blank line ends the event. Data is
// fed straight into an extractor, never buffered whole.

// sse line states.
const (
	sseLineStart = iota
	sseField
	sseValueStart
	sseValue
)

// sse field kinds.
const (
	fieldOther = iota
	fieldData
	fieldEvent
)

// maxHead is how many leading data bytes an event keeps, to recognise
// "[DONE]".
const maxHead = 8

// sseParser splits a byte stream into events. The zero value is ready; x
// must be set before use. Not safe for concurrent use.
type sseParser struct {
	x *extractor // receives each event's data

	state  int
	cr     bool // the last byte was \r: a following \n belongs to that line end
	field  keyBuf
	kind   int
	ended  bool // the last call ended at an event boundary; clear the event first
	events int  // events dispatched so far

	// The current event.
	name      keyBuf // the event field
	dataLines int
	dataLen   int
	head      [maxHead]byte
}

// newEvent clears the per-event state.
func (s *sseParser) newEvent() {
	s.name.reset()
	s.dataLines, s.dataLen = 0, 0
	s.x.reset()
	s.ended = false
}

// next consumes p up to and including the first event boundary (a blank
// line) and returns how many bytes it consumed and whether it stopped at a
// boundary. Without a boundary it consumes all of p. After a boundary the
// event's fields (name, data, the extractor's captures) can be read until
// the next call.
func (s *sseParser) next(p []byte) (n int, boundary bool) {
	if s.ended {
		s.newEvent()
	}
	i := 0
	for i < len(p) {
		if s.cr {
			s.cr = false
			if p[i] == '\n' {
				i++
				continue
			}
		}
		switch s.state {
		case sseLineStart:
			c := p[i]
			if c == '\n' || c == '\r' {
				s.cr = c == '\r'
				i++
				s.ended = true
				if s.dataLines > 0 {
					s.events++
				}
				return i, true
			}
			s.state = sseField
			s.field.reset()
		case sseField:
			j := i
			for j < len(p) && p[j] != ':' && p[j] != '\n' && p[j] != '\r' {
				j++
			}
			s.field.add(p[i:j])
			if j == len(p) {
				return len(p), false
			}
			s.setKind()
			if p[j] == ':' {
				s.state = sseValueStart
				i = j + 1
				continue
			}
			// A line with no colon is a field with an empty value.
			s.value(nil)
			s.lineEnd(p[j])
			i = j + 1
		case sseValueStart:
			s.state = sseValue
			if p[i] == ' ' {
				i++
			}
		case sseValue:
			j := indexEOL(p[i:])
			if j < 0 {
				s.value(p[i:])
				return len(p), false
			}
			s.value(p[i : i+j])
			s.lineEnd(p[i+j])
			i += j + 1
		}
	}
	return len(p), false
}

// end finishes the stream: a last event without its blank line still counts
// (as lenient clients treat it); it reports whether there was one.
func (s *sseParser) end() bool {
	if s.ended {
		return false
	}
	if s.state == sseField {
		s.setKind()
		s.value(nil)
	}
	s.state = sseLineStart
	s.x.end()
	s.ended = true
	if s.dataLines > 0 {
		s.events++
		return true
	}
	return false
}

func indexEOL(p []byte) int {
	j := bytes.IndexByte(p, '\n')
	if j < 0 {
		j = len(p)
	}
	if k := bytes.IndexByte(p[:j], '\r'); k >= 0 {
		return k
	}
	if j == len(p) {
		return -1
	}
	return j
}

func (s *sseParser) setKind() {
	switch {
	case s.field.is("data"):
		s.kind = fieldData
	case s.field.is("event"):
		s.kind = fieldEvent
	default:
		s.kind = fieldOther
	}
	if s.kind == fieldData {
		if s.dataLines > 0 {
			s.data([]byte{'\n'})
		}
		s.dataLines++
	}
	if s.kind == fieldEvent {
		s.name.reset()
	}
}

func (s *sseParser) value(v []byte) {
	switch s.kind {
	case fieldData:
		s.data(v)
	case fieldEvent:
		s.name.add(v)
	}
}

func (s *sseParser) data(v []byte) {
	if s.dataLen < maxHead {
		copy(s.head[s.dataLen:], v)
	}
	s.dataLen += len(v)
	s.x.write(v)
}

func (s *sseParser) lineEnd(c byte) {
	s.cr = c == '\r'
	s.state = sseLineStart
}

// isDone reports whether the event's data is exactly "[DONE]".
func (s *sseParser) isDone() bool {
	return s.dataLines > 0 && s.dataLen == 6 && string(s.head[:6]) == "[DONE]"
}
