package metering

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// This file holds the incremental JSON extractor: it is fed a document in
// pieces of any size and keeps copies of a few members chosen by path (a
// top-level key, or a key of an object that is a top-level member), such as
// "usage" or "response.usage". Everything else streams past without being
// copied, so its memory stays fixed however large the document is.

// maxTargets is the most paths one extractor captures.
const maxTargets = 5

// maxKey is the longest key the extractor compares; longer keys never match.
const maxKey = 32

// target is a member path to capture. k2 is empty for a top-level member;
// a target with an empty k1 is an unused slot.
type target struct {
	k1, k2 string
	max    int // the largest value kept; a longer one is dropped
}

// capture is the last value seen at one target's path.
type capture struct {
	buf  []byte
	done bool // the whole value was seen
	over bool // the value was longer than the target's max
	// For a top-level member, the document offsets of the ',' or '{'
	// before it and the ',' or '}' after it; -1 until seen.
	from, to int
}

// keyBuf holds the key currently being read or last read at one depth.
type keyBuf struct {
	b    [maxKey]byte
	n    int
	long bool
}

func (k *keyBuf) reset() { k.n, k.long = 0, false }

func (k *keyBuf) add(p []byte) {
	if k.long || k.n+len(p) > maxKey {
		k.long = true
		return
	}
	k.n += copy(k.b[k.n:], p)
}

func (k *keyBuf) is(s string) bool { return !k.long && string(k.b[:k.n]) == s }

// bytes returns the key, or nil if it was too long to keep.
func (k *keyBuf) bytes() []byte {
	if k.long {
		return nil
	}
	return k.b[:k.n]
}

// lexer states.
const (
	lexOut    = iota // between tokens
	lexStr           // inside a string
	lexScalar        // inside a number or literal
	lexSkip          // inside a container that can hold nothing captured or counted
)

// value kinds, for knowing where a captured value ends.
const (
	kindString = iota
	kindScalar
	kindContainer
)

// extractor captures selected members of a JSON document fed in pieces. The
// zero value captures nothing; use init. Not safe for concurrent use.
type extractor struct {
	targets []target
	vals    [maxTargets]capture
	// byLen[n] has bit i set when targets[i].k1 is n bytes long: most keys
	// match no target's length, and then no target need be compared.
	byLen [maxKey + 1]uint8

	st       int
	esc      bool
	strIsKey bool
	depth    int
	obj      [4]bool // obj[d]: the container at depth d (1 to 3) is an object
	wantKey  [4]bool
	key      [4]keyBuf

	// Counting: items of the top-level array countIn whose "type" is the
	// string countType ("output" items of type "web_search_call").
	countIn, countType string
	counting           bool // reading a "type" string of such an item
	typeBuf            keyBuf
	count              int64

	cur      int // index of the target being captured, or -1
	capKind  int
	capDepth int

	// Skipping (lexSkip): the open containers, and whether in a string.
	skipN   int
	skipStr bool

	pos    int // the document offset of the piece being written
	delim1 int // the offset of the last ',' or '{' of the top-level object
	ending int // the top-level target whose member's end is awaited, or -1
}

// init sets the paths to capture and clears all state.
func (x *extractor) init(targets ...target) {
	if len(targets) > maxTargets {
		panic("metering: too many extractor targets")
	}
	x.targets = targets
	x.byLen = [maxKey + 1]uint8{}
	for i, t := range targets {
		if t.k1 != "" && len(t.k1) <= maxKey {
			x.byLen[len(t.k1)] |= 1 << i
		}
	}
	x.countIn, x.countType = "", ""
	x.reset()
}

// reset clears the state and the captures, keeping targets and buffers, so
// the extractor can read a new document.
func (x *extractor) reset() {
	for i := range x.vals {
		v := &x.vals[i]
		v.buf, v.done, v.over, v.from, v.to = v.buf[:0], false, false, -1, -1
	}
	x.pos, x.delim1, x.ending = 0, -1, -1
	x.st, x.esc, x.strIsKey, x.depth = lexOut, false, false, 0
	x.obj, x.wantKey = [4]bool{}, [4]bool{}
	x.cur = -1
	x.counting, x.count = false, 0
	x.skipN, x.skipStr = 0, false
}

// countItems makes the extractor count the items of the top-level array
// named in whose member "type" is the string typ. It lasts until init.
func (x *extractor) countItems(in, typ string) { x.countIn, x.countType = in, typ }

// isItemType reports whether a string value starting at the current place
// is the "type" of an item of the counted array.
func (x *extractor) isItemType() bool {
	return x.countIn != "" && x.depth == 3 && x.obj[3] && !x.obj[2] && x.obj[1] &&
		x.key[1].is(x.countIn) && x.key[3].is("type")
}

// value returns the last complete value captured for target i.
func (x *extractor) value(i int) ([]byte, bool) {
	v := &x.vals[i]
	if !v.done || v.over {
		return nil, false
	}
	return v.buf, true
}

// write feeds the next piece of the document.
func (x *extractor) write(p []byte) {
	capFrom := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch x.st {
		case lexStr:
			j, closed := x.scanString(p, i)
			if x.strIsKey {
				x.key[x.depth].add(p[i:j])
			} else if x.counting {
				x.typeBuf.add(p[i:j])
			}
			i = j
			if !closed {
				continue
			}
			x.st = lexOut
			if x.counting {
				x.counting = false
				if x.typeBuf.is(x.countType) {
					x.count++
				}
			}
			if x.cur >= 0 && x.capKind == kindString && !x.strIsKey {
				x.finish(p[capFrom : i+1])
			}
			continue
		case lexSkip:
			if i = x.skipValue(p, i); i < len(p) {
				x.st = lexOut
			}
			continue
		case lexScalar:
			if isScalarByte(c) {
				continue
			}
			x.st = lexOut
			if x.cur >= 0 && x.capKind == kindScalar {
				x.finish(p[capFrom:i])
			}
		}
		d := x.depth
		switch c {
		case ' ', '\t', '\n', '\r':
		case '"':
			if d == 1 && x.obj[1] && x.wantKey[1] && x.cur < 0 {
				if j := x.wholeMember(p, i); j >= 0 {
					i = j - 1 // on at p[j], just past the member's value
					continue
				}
			}
			x.st = lexStr
			if d >= 1 && d <= 3 && x.obj[d] && x.wantKey[d] {
				x.strIsKey = true
				x.key[d].reset()
			} else {
				x.strIsKey = false
				if x.counting = x.isItemType(); x.counting {
					x.typeBuf.reset()
				} else if x.start(kindString) {
					capFrom = i
				}
			}
		case '{', '[':
			if x.start(kindContainer) {
				capFrom = i
			} else if x.skippable() {
				x.st, x.skipN, x.skipStr = lexSkip, 1, false
				continue
			}
			x.depth++
			if x.depth <= 3 {
				x.obj[x.depth] = c == '{'
				x.wantKey[x.depth] = c == '{'
			}
			if x.depth == 1 {
				x.delim1 = x.pos + i
			}
		case '}', ']':
			if x.depth > 0 {
				x.depth--
			}
			if x.depth == 0 {
				x.memberEnd(i)
			}
			if x.cur >= 0 && x.capKind == kindContainer && x.depth == x.capDepth {
				x.finish(p[capFrom : i+1])
			}
		case ':':
			if d >= 1 && d <= 3 {
				x.wantKey[d] = false
			}
		case ',':
			if d >= 1 && d <= 3 && x.obj[d] {
				x.wantKey[d] = true
			}
			if d == 1 {
				x.memberEnd(i)
				x.delim1 = x.pos + i
			}
		default:
			x.st = lexScalar
			if x.start(kindScalar) {
				capFrom = i
			}
		}
	}
	if x.cur >= 0 {
		x.keep(p[capFrom:])
	}
	x.pos += len(p)
}

// wholeMember reads the top-level member whose key opens at p[i] in one
// go, when it lies whole in p with a byte after it, and returns the index
// just past its value, leaving the state as reading it byte by byte would:
// a member that is a top-level target's is captured, any other skipped.
// Most members of a stream's events are of these two kinds (a chat chunk's
// id, created and choices; its model and usage), and a few vector searches
// find a whole one's end instead of a step per byte. It returns -1, having
// changed nothing, for the byte-by-byte way: a key that has an escape, is
// longer than maxKey, or leads to a nested target or the counted array, or
// a member cut off by the end of p or malformed.
func (x *extractor) wholeMember(p []byte, i int) int {
	k := i + 1
	j := indexQuoteOrEscape(p[k:min(len(p), k+maxKey+1)])
	if j < 0 || p[k+j] != '"' {
		return -1
	}
	key := p[k : k+j]
	top, nested, counted := x.keyTargets(key)
	if nested || counted {
		return -1
	}
	c := skipWS(p, k+j+1)
	if c >= len(p) || p[c] != ':' {
		return -1
	}
	from := skipWS(p, c+1)
	end := skipValue(p, from)
	if end < 0 || end >= len(p) {
		return -1
	}
	x.key[1].reset()
	x.key[1].add(key)
	x.wantKey[1] = false
	if top >= 0 {
		x.begin(top, kindContainer, 1) // the kind matters only to a value read in pieces
		x.finish(p[from:end])
	}
	return end
}

// keyTargets says what the top-level key key leads to: the top-level
// target it names (the first, or -1), whether a target lies under it, and
// whether it is the counted array. key is nil for a key too long to keep,
// which names nothing.
func (x *extractor) keyTargets(key []byte) (top int, nested, counted bool) {
	top = -1
	if len(key) <= maxKey {
		for m := x.byLen[len(key)]; m != 0; m &= m - 1 {
			i := bits.TrailingZeros8(m)
			switch t := &x.targets[i]; {
			case t.k1 != string(key):
			case t.k2 != "":
				nested = true
			case top < 0:
				top = i
			}
		}
	}
	return top, nested, x.countIn != "" && x.countIn == string(key)
}

// memberEnd notes that the top-level member ends before p[i].
func (x *extractor) memberEnd(i int) {
	if x.ending >= 0 {
		x.vals[x.ending].to = x.pos + i
		x.ending = -1
	}
}

// span returns the offsets of the delimiters around the top-level member
// last captured for target i, once both were seen.
func (x *extractor) span(i int) (from, to int, ok bool) {
	v := &x.vals[i]
	return v.from, v.to, v.done && v.from >= 0 && v.to >= 0
}

// scanString finds the closing quote of the string the extractor is in,
// from p[i]. It returns its index and true, or len(p) and false if the
// string goes on past p. Linear in len(p) whatever the escapes.
func (x *extractor) scanString(p []byte, i int) (int, bool) {
	// Most strings in a stream (keys, ids, content deltas) end within
	// shortString bytes, where a look at eight bytes at a time beats the
	// two IndexByte calls below, whose vector loop wins on long strings
	// (a base64 image).
	for n := min(len(p), i+shortString); i < n; i++ {
		if x.esc {
			x.esc = false
			continue
		}
		j := indexQuoteOrEscape(p[i:n])
		if j < 0 {
			i = n
			break
		}
		if i += j; p[i] == '"' {
			return i, true
		}
		x.esc = true
	}
	q := -1 // the next '"' at or after i; len(p) if none
	for i < len(p) {
		if x.esc {
			x.esc = false
			i++
			continue
		}
		if q < i {
			if q = bytes.IndexByte(p[i:], '"'); q < 0 {
				q = len(p)
			} else {
				q += i
			}
		}
		if k := bytes.IndexByte(p[i:q], '\\'); k >= 0 {
			x.esc = true
			i += k + 1
			continue
		}
		return q, q < len(p)
	}
	return len(p), false
}

// shortString is how far scanString looks eight bytes at a time.
const shortString = 64

// indexQuoteOrEscape returns the index of the first '"' or '\\' in b, or -1.
func indexQuoteOrEscape(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		// A byte of q or e is zero where w has '"' or '\\'; the lowest
		// flagged byte is exact, those above it may be false alarms.
		q, e := w^(ones*'"'), w^(ones*'\\')
		if m := ((q-ones)&^q | (e-ones)&^e) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '"' || b[i] == '\\' {
			return i
		}
	}
	return -1
}

// skippable reports whether the container starting at the current place
// (not captured) can hold no target and no counted item, so that only
// its end need be found. Most of a stream's bytes are in such containers:
// a chat chunk's choices, a message event's content deltas.
func (x *extractor) skippable() bool {
	switch d := x.depth; {
	case d == 0 || x.cur >= 0:
		return false
	case d == 1:
		if !x.obj[1] {
			return true
		}
		_, nested, counted := x.keyTargets(x.key[1].bytes())
		return !nested && !counted
	case d == 2:
		// Inside the counted array, its items must be read.
		return !(x.countIn != "" && x.obj[1] && !x.obj[2] && x.key[1].is(x.countIn))
	default:
		return true
	}
}

// skipValue reads on from p[i] inside a skipped container and returns
// the index of its closing bracket, or len(p) if it goes on past p.
func (x *extractor) skipValue(p []byte, i int) int {
	for i < len(p) {
		if x.skipStr {
			j, closed := x.scanString(p, i)
			if !closed {
				return len(p)
			}
			x.skipStr, i = false, j+1
			continue
		}
		switch p[i] {
		case '"':
			x.skipStr = true
		case '{', '[':
			x.skipN++
		case '}', ']':
			if x.skipN--; x.skipN == 0 {
				return i
			}
		}
		i++
	}
	return len(p)
}

// end marks the end of the document: a number or literal that ran to the
// very end is complete.
func (x *extractor) end() {
	if x.st == lexScalar {
		x.st = lexOut
		if x.cur >= 0 && x.capKind == kindScalar {
			x.finish(nil)
		}
	}
}

// start is called where a value begins; it reports whether that value is
// now being captured.
func (x *extractor) start(kind int) bool {
	if x.cur >= 0 {
		return false
	}
	d := x.depth
	if d < 1 || d > 2 || !x.obj[d] || (d == 2 && !x.obj[1]) {
		return false
	}
	if d == 1 {
		top, _, _ := x.keyTargets(x.key[1].bytes())
		if top >= 0 {
			x.begin(top, kind, 1)
		}
		return top >= 0
	}
	for m := x.candidates(); m != 0; m &= m - 1 {
		i := bits.TrailingZeros8(m)
		if t := &x.targets[i]; t.k2 != "" && x.key[1].is(t.k1) && x.key[2].is(t.k2) {
			x.begin(i, kind, 2)
			return true
		}
	}
	return false
}

// begin starts capturing target i's value, of kind, at depth d; a
// top-level member's span starts at the delimiter before it.
func (x *extractor) begin(i, kind, d int) {
	v := &x.vals[i]
	v.buf, v.done, v.over, v.from, v.to = v.buf[:0], false, false, -1, -1
	x.cur, x.capKind, x.capDepth = i, kind, d
	if d == 1 {
		v.from, x.ending = x.delim1, i
	}
}

// candidates has bit i set for each target whose k1 is as long as the
// top-level key now current: the only ones that can match at or under it.
func (x *extractor) candidates() uint8 {
	if x.key[1].long {
		return 0
	}
	return x.byLen[x.key[1].n]
}

// keep appends part of the value being captured.
func (x *extractor) keep(p []byte) {
	v := &x.vals[x.cur]
	if v.over || len(v.buf)+len(p) > x.targets[x.cur].max {
		v.over = true
		return
	}
	v.buf = append(v.buf, p...)
}

// finish appends the last part of the value being captured and ends it.
func (x *extractor) finish(p []byte) {
	x.keep(p)
	x.vals[x.cur].done = true
	x.cur = -1
}
