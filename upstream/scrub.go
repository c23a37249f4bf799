package upstream

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"byokd.dev/byok"
)

// minScrub is the shortest key that is scrubbed: a shorter string would
// match ordinary text, and no provider issues keys that short.
const minScrub = 8

// mask is what replaces a key of n bytes: as long as the key, so that a
// response's Content-Length still holds.
func mask(n int) []byte {
	const word = "[redacted]"
	if n < len(word) {
		return bytes.Repeat([]byte("*"), n)
	}
	return []byte(word + strings.Repeat("*", n-len(word)))
}

// scrubHeader removes key from every response header value.
func scrubHeader(h http.Header, key byok.Secret) { scrubHeaderValue(h, key.Reveal()) }

func scrubHeaderValue(h http.Header, k string) {
	if len(k) < minScrub {
		return
	}
	for _, vv := range h {
		for i, v := range vv {
			if strings.Contains(v, k) {
				vv[i] = strings.ReplaceAll(v, k, string(mask(len(k))))
			}
		}
	}
}

// scrubBody returns body with every occurrence of key replaced by its mask,
// even one split across reads. Bytes are withheld only while they could be
// the start of the key, so a stream's events still pass at once (an SSE
// event ends in a newline, which no key contains).
func scrubBody(body io.ReadCloser, key byok.Secret) io.ReadCloser {
	k := key.Reveal()
	if len(k) < minScrub {
		return body
	}
	return &scrubber{inner: body, key: []byte(k)}
}

type scrubber struct {
	inner io.ReadCloser
	key   []byte
	mask  []byte // made when a key is first found
	held  []byte // a tail that may begin the key
	ready []byte // scrubbed bytes not yet handed out
	buf   []byte
	eof   bool
}

func (s *scrubber) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(s.ready) == 0 {
		if s.eof {
			s.ready, s.held = s.held, nil
			if len(s.ready) == 0 {
				return 0, io.EOF
			}
			break
		}
		n, err := s.inner.Read(p)
		if n > 0 {
			if len(s.held) == 0 && !bytes.Contains(p[:n], s.key) && partialTail(p[:n], s.key) == 0 {
				return n, err // the common case: nothing to scrub, nothing copied
			}
			s.scrub(p[:n])
		}
		if err == io.EOF {
			// A tail held at the end was not a key after all.
			s.eof = true
		} else if err != nil {
			return s.hand(p), err
		}
	}
	return s.hand(p), nil
}

// scrub appends b to what is held, masks every whole key, and keeps back
// only a tail that could begin the next one.
func (s *scrubber) scrub(b []byte) {
	data := append(append(s.buf[:0], s.held...), b...)
	for i := 0; ; {
		j := bytes.Index(data[i:], s.key)
		if j < 0 {
			break
		}
		if s.mask == nil {
			s.mask = mask(len(s.key))
		}
		copy(data[i+j:], s.mask)
		i += j + len(s.key)
	}
	keep := partialTail(data, s.key)
	s.ready = append(s.ready[:0], data[:len(data)-keep]...)
	s.held = append(s.held[:0], data[len(data)-keep:]...)
	s.buf = data
}

func (s *scrubber) hand(p []byte) int {
	n := copy(p, s.ready)
	s.ready = s.ready[n:]
	return n
}

func (s *scrubber) Close() error { return s.inner.Close() }

// partialTail is the length of the longest tail of b that is a proper
// prefix of key.
func partialTail(b, key []byte) int {
	start := max(len(b)-(len(key)-1), 0)
	for i := start; i < len(b); i++ {
		if b[i] == key[0] && bytes.HasPrefix(key, b[i:]) {
			return len(b) - i
		}
	}
	return 0
}
