package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// ServiceLogFile is the log file name in the state folder, used on
// Windows where there is no journal and no launchd to collect stderr.
const ServiceLogFile = "byokd.log"

// ServiceLogPath is where the Windows service's log goes.
func ServiceLogPath(home string) string { return filepath.Join(home, ServiceLogFile) }

// stopEventName names the Windows event that asks the daemon for home to
// stop, in the session's namespace.
func stopEventName(home string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(home))))
	return `Local\byokd-stop-` + hex.EncodeToString(sum[:8])
}
