//go:build !linux

package ledger

import (
	"errors"
	"os"
)

// reserveSpace is not done here: Ready's free-room check stands alone.
func reserveSpace(*os.File, int64, int64) error { return errors.ErrUnsupported }
