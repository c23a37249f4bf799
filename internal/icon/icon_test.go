package icon

import "testing"

// TestDraw: the key is drawn on an opaque square with transparent
// rounded corners.
func TestDraw(t *testing.T) {
	m := Draw(64)
	for _, c := range []struct {
		name   string
		x, y   int
		wantA  uint8
		keyish bool
	}{
		{"corner", 0, 0, 0, false},
		{"edge middle", 32, 2, 255, false},
		{"ring of the key", 27, 37, 255, true},
	} {
		p := m.NRGBAAt(c.x, c.y)
		if p.A != c.wantA {
			t.Errorf("%s: alpha %d, want %d", c.name, p.A, c.wantA)
		}
		if gold := p.R > 200 && p.B < 100; gold != c.keyish {
			t.Errorf("%s: colour %v, key colour %v, want %v", c.name, p, gold, c.keyish)
		}
	}
}
