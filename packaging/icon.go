package packaging

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/jackmordaunt/icns/v3"
	"github.com/nfnt/resize"
	ico "github.com/sergeymakinen/go-ico"
)

// SourceIcon is the icon's one source image, relative to the module root.
const SourceIcon = "packaging/icon/byokd.png"

// hicolorSizes are the PNG sizes installed under
// /usr/share/icons/hicolor/NxN/apps.
var hicolorSizes = [...]int{16, 24, 32, 48, 64, 128, 256, 512}

// DrawIcon draws byokd's icon, a light key on a blue rounded square, at
// size×size pixels, anti-aliased by 4×4 supersampling.
func DrawIcon(size int) *image.NRGBA {
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

// IconFiles are the icon set written by WriteIcons, by purpose.
type IconFiles struct {
	Hicolor map[int]string // size → PNG
	ICO     string
	ICNS    string
}

// WriteIcons derives the whole icon set from the source image src into
// dir: byokd-N.png for each hicolor size, byokd.ico (16–256 px) and
// byokd.icns.
func WriteIcons(src image.Image, dir string) (IconFiles, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return IconFiles{}, fmt.Errorf("create icon folder: %w", err)
	}
	out := IconFiles{Hicolor: map[int]string{}, ICO: filepath.Join(dir, "byokd.ico"), ICNS: filepath.Join(dir, "byokd.icns")}
	var forICO []image.Image
	for _, n := range hicolorSizes {
		m := resize.Resize(uint(n), uint(n), src, resize.Lanczos3)
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			return out, fmt.Errorf("encode %d px icon: %w", n, err)
		}
		p := filepath.Join(dir, fmt.Sprintf("byokd-%d.png", n))
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return out, fmt.Errorf("write icon: %w", err)
		}
		out.Hicolor[n] = p
		if n <= 256 {
			forICO = append(forICO, m)
		}
	}
	var b bytes.Buffer
	if err := ico.EncodeAll(&b, forICO); err != nil {
		return out, fmt.Errorf("encode ICO: %w", err)
	}
	if err := os.WriteFile(out.ICO, b.Bytes(), 0o644); err != nil {
		return out, fmt.Errorf("write ICO: %w", err)
	}
	b.Reset()
	if err := icns.Encode(&b, src); err != nil {
		return out, fmt.Errorf("encode ICNS: %w", err)
	}
	if err := os.WriteFile(out.ICNS, b.Bytes(), 0o644); err != nil {
		return out, fmt.Errorf("write ICNS: %w", err)
	}
	return out, nil
}

// LoadIcon reads the source image.
func LoadIcon(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open icon source: %w", err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode icon source %s: %w", path, err)
	}
	return m, nil
}
