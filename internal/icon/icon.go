// Package icon draws byokd's icon: the tray needs it at run time, and the
// packages' icon set (packaging) is derived from it, so it lives here and
// not in packaging, whose libraries the command must not link.
package icon

import (
	"image"
	"image/color"
	"math"
)

// Draw draws byokd's icon, a light key on a blue rounded square, at
// size×size pixels, anti-aliased by 4×4 supersampling.
func Draw(size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4
	top, bottom := color.NRGBA{0x25, 0x63, 0xeb, 0xff}, color.NRGBA{0x1e, 0x3a, 0x8a, 0xff}
	key := color.NRGBA{0xfb, 0xbf, 0x24, 0xff}
	for py := range size {
		bg := mix(top, bottom, float64(py)/float64(size))
		for px := range size {
			var inBG, inKey int
			for sy := range ss {
				for sx := range ss {
					// Centred coordinates in [-0.5, 0.5).
					x := (float64(px)+(float64(sx)+0.5)/ss)/float64(size) - 0.5
					y := (float64(py)+(float64(sy)+0.5)/ss)/float64(size) - 0.5
					if inRoundedSquare(x, y, 0.47, 0.1) {
						inBG++
						if inKeyShape(x, y) {
							inKey++
						}
					}
				}
			}
			if inBG == 0 {
				continue
			}
			c := mix(bg, key, float64(inKey)/float64(inBG))
			c.A = uint8(255 * inBG / (ss * ss))
			img.SetNRGBA(px, py, c)
		}
	}
	return img
}

func mix(a, b color.NRGBA, t float64) color.NRGBA {
	l := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-t) + float64(y)*t)) }
	return color.NRGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), l(a.A, b.A)}
}

func inRoundedSquare(x, y, half, r float64) bool {
	dx := math.Max(math.Abs(x)-(half-r), 0)
	dy := math.Max(math.Abs(y)-(half-r), 0)
	return math.Abs(x) <= half && math.Abs(y) <= half && dx*dx+dy*dy <= r*r
}

// inKeyShape: a ring bow, a shaft and two bits, tilted 45° to point up
// and to the right.
func inKeyShape(x, y float64) bool {
	const c = math.Sqrt2 / 2
	// Rotate by +45° so the key, drawn along +x, points up-right.
	u, v := c*x-c*y, c*x+c*y
	u += 0.03
	rx, ry := u+0.2, v
	d := math.Hypot(rx, ry)
	if d <= 0.16 && d >= 0.07 {
		return true
	}
	in := func(x0, x1, y0, y1 float64) bool { return u >= x0 && u <= x1 && v >= y0 && v <= y1 }
	return in(-0.06, 0.34, -0.04, 0.04) || // shaft
		in(0.19, 0.24, 0.04, 0.12) || // first bit
		in(0.27, 0.34, 0.04, 0.16) // second bit
}

// Badge draws a dot of colour c, ringed in white, in the lower right
// corner of img: the tray's mark for a state that wants attention.
func Badge(img *image.NRGBA, c color.NRGBA) {
	size := img.Bounds().Dx()
	cx, cy, r := float64(size)*0.76, float64(size)*0.76, float64(size)*0.22
	ring := r + float64(size)*0.05
	for py := range size {
		for px := range size {
			d := math.Hypot(float64(px)+0.5-cx, float64(py)+0.5-cy)
			switch {
			case d <= r:
				img.SetNRGBA(px, py, c)
			case d <= ring:
				img.SetNRGBA(px, py, color.NRGBA{0xff, 0xff, 0xff, 0xff})
			}
		}
	}
}

// Grey turns img to greys at half strength: the tray's mark for a daemon
// that is not running.
func Grey(img *image.NRGBA) {
	for i := 0; i+3 < len(img.Pix); i += 4 {
		p := img.Pix[i : i+4 : i+4]
		y := uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000)
		p[0], p[1], p[2], p[3] = y, y, y, p[3]/2
	}
}
