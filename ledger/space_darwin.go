package ledger

import "golang.org/x/sys/unix"

// rdOnly is the read-only flag of Statfs_t.Flags.
const rdOnly = unix.MNT_RDONLY
