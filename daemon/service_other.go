//go:build !linux && !darwin && !windows

package daemon

import (
	"errors"
	"runtime"
)

func newPlatform(ServiceConfig) (platform, error) {
	return nil, errors.New("byokd has no per-user service on " + runtime.GOOS + ": start `byokd run` from your session's startup instead")
}
