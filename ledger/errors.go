package ledger

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors a caller can branch on with errors.Is.
var (
	// ErrUnavailable means the ledger cannot be written right now: the disk
	// is full, the file or its folder is read-only, another program holds
	// the lock, the disk reports I/O errors, or the DB is closed. The proxy
	// answers such a call with 503 rather than serve it unmetered. The
	// wrapping error says what happened and what to do.
	ErrUnavailable = errors.New("ledger unavailable")
	// ErrDamaged means the database file failed SQLite's integrity check or
	// is not a SQLite database at all. The wrapping error tells the user to
	// run `byokd doctor`.
	ErrDamaged = errors.New("ledger damaged")
	// ErrTooNew means the database was written by a newer byokd whose schema
	// this one does not know.
	ErrTooNew = errors.New("ledger schema newer than this byokd")
	// ErrClosed is returned, together with ErrUnavailable, by calls made
	// after Close.
	ErrClosed = errors.New("ledger closed")
)

// stateError is an error that wraps a sentinel (ErrUnavailable, ErrDamaged)
// and the backend error that caused it, and reads as advice.
type stateError struct {
	sentinel error
	advice   string // what happened and what to do
	cause    error
}

func (e *stateError) Error() string {
	if e.cause == nil {
		return e.advice
	}
	return e.advice + " (" + e.cause.Error() + ")"
}

func (e *stateError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.sentinel}
	}
	return []error{e.sentinel, e.cause}
}

func errClosed() error {
	return &stateError{sentinel: ErrUnavailable, advice: "ledger is closed", cause: ErrClosed}
}

func damaged(path, detail string, cause error) error {
	return &stateError{
		sentinel: ErrDamaged,
		advice:   fmt.Sprintf("ledger %s is damaged (%s): run `byokd doctor` to check and repair it", path, detail),
		cause:    cause,
	}
}

// classify maps SQLite and operating-system errors that mean "cannot write
// the ledger now" to ErrUnavailable, and corruption to ErrDamaged, each with
// advice naming path. Any other error is returned unchanged.
func classify(path string, err error) error {
	if err == nil {
		return nil
	}
	var se *stateError
	if errors.As(err, &se) {
		return err
	}
	unavailable := func(advice string) error {
		return &stateError{sentinel: ErrUnavailable, advice: advice, cause: err}
	}
	var sq *sqlite.Error
	if errors.As(err, &sq) {
		switch sq.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return unavailable(fmt.Sprintf("ledger disk full: free space on the disk holding %s, then retry", path))
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			return unavailable(fmt.Sprintf("ledger is read-only: make %s and its folder writable by the user running byokd", path))
		case sqlite3.SQLITE_CANTOPEN:
			return unavailable(fmt.Sprintf("cannot open the ledger %s: check that its folder exists and is writable by the user running byokd", path))
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return unavailable(fmt.Sprintf("ledger is locked by another program: stop other byokd processes or tools using %s, then retry", path))
		case sqlite3.SQLITE_IOERR:
			return unavailable(fmt.Sprintf("ledger disk error on %s: check the disk, then run `byokd doctor`", path))
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return damaged(path, "SQLite reports a malformed or foreign file", err)
		}
		return err
	}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return unavailable(fmt.Sprintf("ledger disk full: free space on the disk holding %s, then retry", path))
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return unavailable(fmt.Sprintf("ledger is read-only: make %s and its folder writable by the user running byokd", path))
	}
	return err
}
