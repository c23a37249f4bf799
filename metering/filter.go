package metering

import "bytes"

// This file holds the event filter that hides the usage report Inspect
// asked for on the client's behalf.

// filterEvents forwards whole events of an OpenAI chat stream, minus the
// usage-only chunk and the "usage":null members.
func (m *Meter) filterEvents(p []byte) ([]byte, bool) {
	m.out = m.out[:0]
	terminal := false
	for len(p) > 0 {
		n, boundary := m.sp.next(p)
		seg := p[:n]
		p = p[n:]
		if m.dropLF {
			m.dropLF = false
			if len(seg) > 0 && seg[0] == '\n' {
				seg = seg[1:]
			}
		}
		if !boundary {
			m.held = append(m.held, seg...)
			if len(m.held) > maxHeld {
				// Too long for an OpenAI chunk: stop filtering, pass the rest.
				m.filter = false
				m.out = append(m.out, m.held...)
				m.held = m.held[:0]
				terminal = m.scan(p) || terminal
				m.out = append(m.out, p...)
				return m.out, terminal
			}
			continue
		}
		raw := seg
		if len(m.held) > 0 {
			m.held = append(m.held, seg...)
			raw = m.held
		}
		t, drop := m.event()
		terminal = terminal || t
		if drop {
			// A leading \n ends the previous (kept) event's \r\n line.
			if raw[0] == '\n' {
				m.out = append(m.out, '\n')
			}
			m.dropLF = raw[len(raw)-1] == '\r'
		} else {
			m.out = m.forward(m.out, raw)
		}
		m.held = m.held[:0]
	}
	return m.out, terminal
}

// forward appends the event raw to out, without its "usage":null member if
// it has one on a single data line.
func (m *Meter) forward(out, raw []byte) []byte {
	if v, ok := m.x.value(slotUsage); !ok || !isNull(v) || m.sp.dataLines != 1 {
		return append(out, raw...)
	}
	for i := 0; i < len(raw); {
		end := len(raw)
		next := end
		if j := indexEOL(raw[i:]); j >= 0 {
			end = i + j
			next = end + 1
			if raw[end] == '\r' && next < len(raw) && raw[next] == '\n' {
				next++
			}
		}
		if line := raw[i:end]; bytes.HasPrefix(line, []byte("data:")) {
			j := i + 5
			if j < end && raw[j] == ' ' {
				j++
			}
			if from, to, ok := nullUsageCut(&m.x, raw[j:end]); ok {
				out = append(out, raw[:j+from]...)
				return append(out, raw[j+to:]...)
			}
			break
		}
		i = next
	}
	return append(out, raw...)
}

// nullUsageCut returns the span of data, the event's one data line that x
// has just read, to cut so that what remains is the object without its
// "usage":null member: the member with the comma before it, or, for the
// first member, with the comma after it. The extractor found where the
// member lies as it read; the member's text is checked again, so that
// malformed text around it is forwarded as it came.
func nullUsageCut(x *extractor, data []byte) (from, to int, ok bool) {
	before, after, ok := x.span(slotUsage)
	if !ok || after >= len(data) || !isNullUsage(data[before+1:after]) {
		return 0, 0, false
	}
	switch {
	case data[before] == ',':
		return before, after, true
	case data[after] == ',': // the first member: keep the '{'
		return before + 1, after + 1, true
	default: // the only member
		return before + 1, after, true
	}
}

// isNullUsage reports whether b is the member "usage":null, with any
// whitespace around its parts.
func isNullUsage(b []byte) bool {
	i := skipWS(b, 0)
	if !bytes.HasPrefix(b[i:], []byte(`"usage"`)) {
		return false
	}
	i = skipWS(b, i+7)
	if i >= len(b) || b[i] != ':' {
		return false
	}
	i = skipWS(b, i+1)
	return bytes.HasPrefix(b[i:], []byte("null")) && skipWS(b, i+4) == len(b)
}
