package packaging

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackmordaunt/icns/v3"
	ico "github.com/sergeymakinen/go-ico"
)

func TestWriteIcons(t *testing.T) {
	src, err := LoadIcon(filepath.Join("..", SourceIcon))
	if err != nil {
		t.Fatal(err)
	}
	if b := src.Bounds(); b.Dx() != 1024 || b.Dy() != 1024 {
		t.Fatalf("source icon is %v, want 1024×1024", b)
	}
	dir := t.TempDir()
	files, err := WriteIcons(src, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range hicolorSizes {
		f, err := os.Open(files.Hicolor[n])
		if err != nil {
			t.Fatalf("no %d px PNG: %v", n, err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != n || cfg.Height != n {
			t.Errorf("%d px PNG: %dx%d (%v)", n, cfg.Width, cfg.Height, err)
		}
	}
	f, err := os.Open(files.ICO)
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := ico.DecodeAll(f)
	f.Close()
	if err != nil {
		t.Fatalf("decode ICO: %v", err)
	}
	var sizes []int
	for _, m := range imgs {
		sizes = append(sizes, m.Bounds().Dx())
	}
	if want := []int{16, 24, 32, 48, 64, 128, 256}; len(sizes) != len(want) {
		t.Errorf("ICO sizes = %v, want %v", sizes, want)
	}
	f, err = os.Open(files.ICNS)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := icns.Probe(f)
	f.Close()
	if err != nil || len(desc) == 0 {
		t.Errorf("ICNS holds %v (%v), want icons", desc, err)
	}
}
