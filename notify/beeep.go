package notify

import "github.com/gen2brain/beeep"

// Beeep posts plain notifications with github.com/gen2brain/beeep: over
// D-Bus on Linux (notify-send as a fallback), the notification center on
// macOS, toasts on Windows. The application name is beeep.AppName, which
// cmd/byokd sets.
type Beeep struct{}

// Post shows title and body; beeep reports no clicks.
func (Beeep) Post(title, body string, _ func()) error { return beeep.Notify(title, body, "") }
