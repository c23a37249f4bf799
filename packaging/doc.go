// Package packaging builds byokd's release artifacts: the icon set drawn
// from one source image (hicolor PNGs, a Windows ICO, a macOS ICNS), Linux
// .deb and .rpm packages made with nfpm, a Windows zip and tray-less macOS
// archives. `make dist` runs it through packaging/cmd/dist.
package packaging
