//go:build !linux && !windows

package peercred

import (
	"errors"
	"net"
	"os/user"
)

// owner is not told here (macOS gives no socket's owner to an
// unprivileged process): the listener accepts every local connection and
// relies on the tokens and the loopback gate alone (docs/SECURITY.md).
func owner(net.Conn) (peer, error) { return peer{}, nil }

func findProcess(string) (Process, error) { return Process{}, errors.ErrUnsupported }

func selfName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "this user"
}
