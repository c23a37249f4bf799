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
			if from, to, ok := nullUsageSpan(raw[j:end]); ok {
				out = append(out, raw[:j+from]...)
				return append(out, raw[j+to:]...)
			}
			break
		}
		i = next
	}
	return append(out, raw...)
}

// nullUsageSpan finds the "usage":null member of the object obj and returns
// the span to cut so that what remains is the object without it: the
// member with the comma before it, or, for the first member, with the comma
// and space after it.
func nullUsageSpan(obj []byte) (from, to int, ok bool) {
	it, ok := newObjIter(obj, 0)
	if !ok {
		return 0, 0, false
	}
	var found member
	index, hit := 0, false
	for {
		mem, ok := it.next()
		if !ok {
			break
		}
		if hit {
			return found.keyStart, mem.keyStart, true // first member, others follow
		}
		if string(mem.key(obj)) == "usage" && isNull(mem.value(obj)) {
			if index > 0 {
				return mem.prevEnd, mem.valEnd, true
			}
			found, hit = mem, true
		}
		index++
	}
	if hit && it.end >= 0 {
		return found.keyStart, found.valEnd, true // the only member
	}
	return 0, 0, false
}
