//go:build !windows

package daemon

import (
	"context"
	"io"
)

// ServiceContext returns ctx unchanged and a nil log: on Linux and macOS
// the service manager stops the daemon with SIGTERM and collects its
// standard error (the journal, ~/Library/Logs/byokd.log).
func ServiceContext(ctx context.Context, home string) (_ context.Context, log io.Writer, done func(), err error) {
	return ctx, nil, func() {}, nil
}
