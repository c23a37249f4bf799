package daemon

import (
	"fmt"
	"strings"
)

// ServiceName names the per-user service everywhere: the systemd unit
// byokd.service, the LaunchAgent byokd.plist, the Run key value byokd.
const ServiceName = "byokd"

// serviceArg is the command the service manager starts the binary with.
const serviceArg = "run"

// ExitNotRestarted is `byokd run`'s exit status when the daemon could not
// start for a reason restarting will not mend (no keychain and no key
// file passphrase, a bad config, the state folder in use): the service
// manager is told not to restart it (EX_CONFIG). StartError says why,
// for `byokd status`.
const ExitNotRestarted = 78

// StartErrorFile, in the state folder, holds why the last start failed;
// a start that succeeds removes it.
const StartErrorFile = "start-error.txt"

// SystemdUnit returns the text of the systemd user unit that runs
// `exe run`. A non-empty home is passed as BYOKD_HOME. The unit is wanted
// by default.target, the target a user manager reaches at login
// (multi-user.target, which kardianos/service writes, is a system target
// the user manager never reaches). TimeoutStopSec outlasts the daemon's
// default 30 s ShutdownGrace so a stop lets in-flight calls finish.
func SystemdUnit(exe, home string) string {
	var b strings.Builder
	b.WriteString("[Unit]\n")
	b.WriteString("Description=byokd: bring-your-own-keys proxy for OpenAI, Anthropic and ClickUp\n")
	// Five failed starts in ten minutes end the restarts; a start that
	// failed for a reason a restart cannot mend exits ExitNotRestarted.
	b.WriteString("StartLimitIntervalSec=600\n")
	b.WriteString("StartLimitBurst=5\n")
	if home == "" {
		// The package's unit is enabled for every login: not for root or
		// system accounts such as a display manager's greeter.
		b.WriteString("ConditionUser=!@system\n")
	}
	b.WriteString("\n")
	b.WriteString("[Service]\n")
	b.WriteString("Type=exec\n")
	fmt.Fprintf(&b, "ExecStart=%s %s\n", systemdQuote(exe), serviceArg)
	if home != "" {
		fmt.Fprintf(&b, "Environment=%s\n", systemdQuote("BYOKD_HOME="+home))
	}
	b.WriteString("Restart=on-failure\n")
	b.WriteString("RestartSec=5\n")
	fmt.Fprintf(&b, "RestartPreventExitStatus=%d\n", ExitNotRestarted)
	b.WriteString("TimeoutStopSec=45\n")
	// Hardening a user manager applies without namespaces of its own, and
	// that neither the daemon nor the browser it opens needs otherwise.
	b.WriteString("UMask=0077\n")
	b.WriteString("NoNewPrivileges=yes\n")
	b.WriteString("LockPersonality=yes\n")
	b.WriteString("SystemCallArchitectures=native\n\n")
	b.WriteString("[Install]\n")
	b.WriteString("WantedBy=default.target\n")
	return b.String()
}

// systemdQuote quotes s for ExecStart= and Environment= when it needs it,
// and escapes systemd's specifier character %.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if !strings.ContainsAny(s, " \t\"'\\;$") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`)
	return `"` + r.Replace(s) + `"`
}

// LaunchAgentPlist returns the launchd property list of the per-user
// LaunchAgent that runs `exe run` at login, with BYOKD_HOME set to home
// (when not empty) and standard output and error appended to logPath.
func LaunchAgentPlist(exe, home, logPath string) string {
	x := func(s string) string {
		return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + ServiceName + `</string>
	<key>ProgramArguments</key>
	<array>
		<string>` + x(exe) + "</string>\n")
	b.WriteString("\t\t<string>" + serviceArg + "</string>\n\t</array>\n")
	if home != "" {
		b.WriteString("\t<key>EnvironmentVariables</key>\n\t<dict>\n\t\t<key>BYOKD_HOME</key>\n\t\t<string>" + x(home) + "</string>\n\t</dict>\n")
	}
	b.WriteString(`	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ExitTimeOut</key>
	<integer>45</integer>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>StandardOutPath</key>
	<string>` + x(logPath) + `</string>
	<key>StandardErrorPath</key>
	<string>` + x(logPath) + `</string>
</dict>
</plist>
`)
	return b.String()
}

// RunKeyCommand returns the command line the Windows per-user Run key
// starts at login: `exe service run --home HOME`, each part quoted the
// way CommandLineToArgvW reads it.
func RunKeyCommand(exe, home string) string {
	return winQuote(exe) + " service run --home " + winQuote(home)
}

// winQuote quotes s for a Windows command line (CommandLineToArgvW rules).
func winQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for _, c := range s {
		switch c {
		case '\\':
			slashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*slashes+1))
		default:
			b.WriteString(strings.Repeat(`\`, slashes))
		}
		slashes = 0
		b.WriteRune(c)
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}
