package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
)

// runDaemon starts a daemon of cfg, with a fresh home, a loopback port
// and no log unless cfg says otherwise, and runs it until the test ends.
func runDaemon(t *testing.T, cfg Config) *Daemon {
	t.Helper()
	if cfg.Home == "" {
		cfg.Home = filepath.Join(t.TempDir(), "home")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}
