//go:build linux

package keystore

import (
	"errors"
	"os"
	"strings"
)

// unavailableHint tells the user how to get a working keychain.
const unavailableHint = "unlock your login keyring or start a Secret Service such as gnome-keyring, or set BYOKD_KEYSTORE=file"

// checkSessionBus refuses to reach the keychain when no D-Bus session bus
// address is set. Without one, godbus would look for $XDG_RUNTIME_DIR/bus and
// then autolaunch a bus of its own, whose keyring is locked and lives in the
// real home folder: a stray daemon nobody asked for.
func checkSessionBus() error {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		return errors.New("DBUS_SESSION_BUS_ADDRESS is not set, and byokd does not start a D-Bus session bus itself")
	}
	for _, a := range strings.Split(addr, ";") {
		if strings.HasPrefix(a, "autolaunch:") {
			return errors.New("DBUS_SESSION_BUS_ADDRESS asks for D-Bus autolaunch, which byokd does not do")
		}
	}
	return nil
}
