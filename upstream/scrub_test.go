package upstream

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"byokd.dev/byok"
)

const testKey = "sk-team-0123456789abcdef"

// chunked hands out its pieces one Read at a time, as a network does.
type chunked struct{ pieces []string }

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	if c.pieces[0] == "" {
		c.pieces = c.pieces[1:]
	}
	return n, nil
}

func (c *chunked) Close() error { return nil }

func TestScrubBody_KeySplitAcrossReads(t *testing.T) {
	masked := string(mask(len(testKey)))
	for _, c := range []struct {
		name   string
		pieces []string
		want   string
	}{
		{"whole", []string{`{"echo":"` + testKey + `"}`}, `{"echo":"` + masked + `"}`},
		{"split in the middle", []string{`{"echo":"sk-team-0123`, `456789abcdef"}`}, `{"echo":"` + masked + `"}`},
		{"split after one byte", []string{`{"echo":"s`, `k-team-0123456789abcdef"}`}, `{"echo":"` + masked + `"}`},
		{"one byte per read", strings.Split(`x`+testKey+`y`, ""), `x` + masked + `y`},
		{"twice, back to back", []string{testKey + testKey}, masked + masked},
		{"a prefix that is not the key", []string{`sk-team-01234`, `XYZ`}, `sk-team-01234XYZ`},
		{"a prefix at the very end", []string{`data: sk-team-0123`}, `data: sk-team-0123`},
		{"overlapping start", []string{`sk-team-sk-team-0123456789abcdef`}, `sk-team-` + masked},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := scrubBody(&chunked{pieces: append([]string(nil), c.pieces...)}, byok.NewSecret(testKey))
			got, err := io.ReadAll(b)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if len(got) != len(strings.Join(c.pieces, "")) {
				t.Errorf("length %d, want %d: Content-Length would no longer hold", len(got), len(strings.Join(c.pieces, "")))
			}
		})
	}
}

// An SSE event ends in a newline, which no key holds: the scrubber must
// not hold an event back waiting for more bytes.
func TestScrubBody_ReleasesAnEventAtOnce(t *testing.T) {
	pr, pw := io.Pipe()
	b := scrubBody(pr, byok.NewSecret(testKey))
	event := "data: {\"delta\":\"sk-\"}\n\n"
	go pw.Write([]byte(event))
	buf := make([]byte, 4096)
	n, err := b.Read(buf)
	if err != nil || string(buf[:n]) != event {
		t.Fatalf("first read = %q, %v; want the whole event at once", buf[:n], err)
	}
	pw.Close()
}

func TestScrubBody_ShortKeyUntouched(t *testing.T) {
	inner := io.NopCloser(strings.NewReader("abc"))
	if got := scrubBody(inner, byok.NewSecret("short")); got != inner {
		t.Error("a key shorter than minScrub must not wrap the body")
	}
}

func TestScrubBody_ReaderContract(t *testing.T) {
	data := strings.Repeat("lorem "+testKey+" ipsum ", 50)
	b := scrubBody(io.NopCloser(strings.NewReader(data)), byok.NewSecret(testKey))
	want := strings.ReplaceAll(data, testKey, string(mask(len(testKey))))
	if err := iotest.TestReader(b, []byte(want)); err != nil {
		t.Error(err)
	}
}

func FuzzScrubBody(f *testing.F) {
	f.Add([]byte("a"+testKey+"b"), uint8(3))
	f.Add([]byte(testKey[:10]+testKey), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		n := int(step%32) + 1
		var pieces []string
		for i := 0; i < len(data); i += n {
			pieces = append(pieces, string(data[i:min(i+n, len(data))]))
		}
		got, err := io.ReadAll(scrubBody(&chunked{pieces: pieces}, byok.NewSecret(testKey)))
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.ReplaceAll(data, []byte(testKey), mask(len(testKey)))
		if !bytes.Equal(got, want) {
			t.Errorf("scrubbed %q in pieces of %d = %q, want %q", data, n, got, want)
		}
	})
}
