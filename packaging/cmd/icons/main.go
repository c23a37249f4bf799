// Command icons draws byokd's source icon (packaging/icon/byokd.png,
// 1024 px) and, with -out, derives the icon set from it.
//
//	go run ./packaging/cmd/icons -draw          # redraw the source image
//	go run ./packaging/cmd/icons -out dist/icons
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image/png"
	"os"

	"byokd.dev/byok/internal/icon"
	"byokd.dev/byok/packaging"
)

func main() {
	draw := flag.Bool("draw", false, "redraw "+packaging.SourceIcon)
	out := flag.String("out", "", "write the PNG, ICO and ICNS set into this folder")
	flag.Parse()
	if err := run(*draw, *out); err != nil {
		fmt.Fprintln(os.Stderr, "icons:", err)
		os.Exit(1)
	}
}

func run(draw bool, out string) error {
	if draw {
		var b bytes.Buffer
		if err := png.Encode(&b, icon.Draw(1024)); err != nil {
			return err
		}
		if err := os.WriteFile(packaging.SourceIcon, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if out == "" {
		return nil
	}
	src, err := packaging.LoadIcon(packaging.SourceIcon)
	if err != nil {
		return err
	}
	_, err = packaging.WriteIcons(src, out)
	return err
}
