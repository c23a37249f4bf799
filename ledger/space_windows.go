package ledger

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// diskRoom is the room the user has left on the volume holding f. A
// read-only volume is found by the row's own write.
func diskRoom(f *os.File) (free uint64, readOnly bool, err error) {
	p, err := windows.UTF16PtrFromString(filepath.Dir(f.Name()))
	if err != nil {
		return 0, false, err
	}
	var avail, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &totalFree); err != nil {
		return 0, false, err
	}
	return avail, false, nil
}
