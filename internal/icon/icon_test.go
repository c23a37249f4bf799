package icon

import (
	"image/color"
	"testing"
)

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

// A badge marks the lower right corner and leaves the key; grey keeps
// the shape and drops the colour.
func TestBadgeAndGrey(t *testing.T) {
	orange := color.NRGBA{0xf9, 0x73, 0x16, 0xff}
	m := Draw(64)
	Badge(m, orange)
	if p := m.NRGBAAt(48, 48); p != orange {
		t.Errorf("badge centre %v, want %v", p, orange)
	}
	if p := m.NRGBAAt(27, 37); !(p.R > 200 && p.B < 100) {
		t.Errorf("the key's ring %v is gone under the badge", p)
	}
	g := Draw(64)
	Grey(g)
	if p := g.NRGBAAt(32, 2); p.R != p.G || p.G != p.B || p.A != 127 {
		t.Errorf("greyed edge %v, want a half-strength grey", p)
	}
	if p := g.NRGBAAt(0, 0); p.A != 0 {
		t.Errorf("greyed corner %v, want transparent", p)
	}
}
