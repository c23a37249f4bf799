//go:build notray

package tray

import (
	"context"
	"errors"
)

// Run reports that this build has no tray: macOS builds made without cgo
// (the notray tag) leave out fyne.io/systray, which needs Cocoa.
func Run(ctx context.Context, cfg Config) error {
	return errors.New("this byokd was built without the tray (notray); use byokd ui for the Credential Manager")
}
