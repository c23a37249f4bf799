package statelock

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestAcquire(t *testing.T) {
	dir := t.TempDir()
	release, err := Acquire(dir, "byokd")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "byokd")
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "byokd is already running on "+dir) ||
		!strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Acquire: %v, want ErrHeld naming this process", err)
	}
	release()
	again, err := Acquire(dir, "byokd")
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	again()
}
