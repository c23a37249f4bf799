package peercred

import (
	"net"
	"os"
	"testing"
)

// The kernel's answer for one socket (sock_diag) and the TCP table agree
// on the owner and the inode, for IPv4 and IPv6 loopback.
func TestOwner_DiagAgreesWithTable(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("no %s here: %v", addr, err)
			continue
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		local, remote := s.RemoteAddr().(*net.TCPAddr), s.LocalAddr().(*net.TCPAddr)
		du, di, derr := diag(local, remote)
		tu, ti, terr := scanTable(local, remote)
		if derr != nil || terr != nil || du != os.Getuid() || du != tu || di != ti || di == "0" {
			t.Errorf("%s: sock_diag %d %s %v, table %d %s %v", addr, du, di, derr, tu, ti, terr)
		}
		s.Close()
		c.Close()
		ln.Close()
	}
}
