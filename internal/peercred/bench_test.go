package peercred

import (
	"net"
	"testing"
)

// BenchmarkAccept is what the owner check adds to each new connection:
// dial, accept through Only (a read of the kernel's TCP table), close.
// Compare with BenchmarkAcceptPlain in the same run.
func BenchmarkAccept(b *testing.B) { benchAccept(b, true) }

// BenchmarkAcceptPlain is the same without the check.
func BenchmarkAcceptPlain(b *testing.B) { benchAccept(b, false) }

func benchAccept(b *testing.B, check bool) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	ln := raw
	if check {
		ln = Only(raw, "bench", nil)
	}
	for b.Loop() {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		c.Close()
	}
}
