package metering

import "bytes"

// This file holds a small scanner over complete JSON text: enough to walk an
// object's members and skip values without decoding them. It allocates
// nothing and never panics on malformed input; callers that need validity
// check it with json.Valid first.

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isScalarByte reports whether c can be part of a JSON number or literal.
func isScalarByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c == '-' || c == '+' || c == '.'
}

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string whose opening quote is
// at b[i], or -1 if it is not terminated.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for q-1-n > i && b[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skipValue returns the index just past the value that starts at or after i
// (after whitespace), or -1 if there is none or it is truncated.
func skipValue(b []byte, i int) int {
	i = skipWS(b, i)
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		j := i
		for j < len(b) && isScalarByte(b[j]) {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// member is one object member found by objIter; all fields index the
// scanned text.
type member struct {
	keyStart int // the key's opening quote
	keyEnd   int // just past the key's closing quote
	valStart int
	valEnd   int // just past the value
}

// key returns the member's key as written, without quotes or unescaping.
func (m member) key(b []byte) []byte { return b[m.keyStart+1 : m.keyEnd-1] }

// value returns the member's value text.
func (m member) value(b []byte) []byte { return b[m.valStart:m.valEnd] }

// objIter walks the members of one object.
type objIter struct {
	b     []byte
	i     int // next position to read
	first bool
	done  bool
}

// newObjIter starts at the object beginning at or after i (after
// whitespace); ok is false if there is no object there.
func newObjIter(b []byte, i int) (it objIter, ok bool) {
	i = skipWS(b, i)
	if i >= len(b) || b[i] != '{' {
		return objIter{done: true}, false
	}
	return objIter{b: b, i: i + 1, first: true}, true
}

// next returns the next member, or ok false at the end of the object or at
// malformed text.
func (it *objIter) next() (m member, ok bool) {
	if it.done {
		return member{}, false
	}
	b := it.b
	i := skipWS(b, it.i)
	if i < len(b) && b[i] == '}' {
		it.done = true
		return member{}, false
	}
	if !it.first {
		if i >= len(b) || b[i] != ',' {
			it.done = true
			return member{}, false
		}
		i = skipWS(b, i+1)
	}
	it.first = false
	if i >= len(b) || b[i] != '"' {
		it.done = true
		return member{}, false
	}
	m.keyStart = i
	m.keyEnd = skipString(b, i)
	if m.keyEnd < 0 {
		it.done = true
		return member{}, false
	}
	i = skipWS(b, m.keyEnd)
	if i >= len(b) || b[i] != ':' {
		it.done = true
		return member{}, false
	}
	m.valStart = skipWS(b, i+1)
	m.valEnd = skipValue(b, m.valStart)
	if m.valEnd < 0 {
		it.done = true
		return member{}, false
	}
	it.i = m.valEnd
	return m, true
}

// isNull reports whether v is the literal null.
func isNull(v []byte) bool { return string(v) == "null" }

// isEmptyArray reports whether v is [] (with any inner whitespace).
func isEmptyArray(v []byte) bool {
	return len(v) >= 2 && v[0] == '[' && skipWS(v, 1) == len(v)-1 && v[len(v)-1] == ']'
}

// tokenCap is the largest token count metering believes; larger or
// negative counts in a response are clamped into [0, tokenCap].
const tokenCap int64 = 1_000_000_000_000

// parseCount reads a JSON number as a token count, clamped to [0, tokenCap]:
// negatives become 0, fractions are truncated, exponents are applied with
// saturation. ok is false if v is not a number.
func parseCount(v []byte) (n int64, ok bool) {
	i := 0
	neg := false
	if i < len(v) && v[i] == '-' {
		neg, i = true, i+1
	}
	start := i
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		if n < tokenCap {
			n = n*10 + int64(v[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, false
	}
	if i < len(v) && v[i] == '.' {
		i++
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		eneg := false
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			eneg, i = v[i] == '-', i+1
		}
		exp := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			if exp < 100 {
				exp = exp*10 + int(v[i]-'0')
			}
			i++
		}
		for ; exp > 0 && n > 0; exp-- {
			if eneg {
				n /= 10
			} else if n < tokenCap {
				n *= 10
			}
		}
	}
	if i != len(v) {
		return 0, false
	}
	if neg {
		return 0, true
	}
	return min(n, tokenCap), true
}
