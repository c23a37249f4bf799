//go:build linux || darwin

package daemon

import "github.com/kardianos/service"

// noProgram satisfies kardianos/service's Interface; byokd never runs
// under its Run, since the unit or LaunchAgent starts `byokd run` directly.
type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }
