package packaging

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
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
