package peercred

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// owner finds the connecting socket of c in the kernel's TCP table: the
// entry whose local address is c's remote one and whose remote address is
// c's local one, and returns the uid that owns it.
func owner(c net.Conn) (uid int, known bool, err error) {
	local, ok1 := c.RemoteAddr().(*net.TCPAddr)
	remote, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0, false, nil
	}
	table := "/proc/net/tcp"
	if local.IP.To4() == nil {
		table = "/proc/net/tcp6"
	}
	want := [2]string{hexAddr(local), hexAddr(remote)}
	f, err := os.Open(table)
	if err != nil {
		return 0, false, fmt.Errorf("read %s: %w", table, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[1] != want[0] || fields[2] != want[1] {
			continue
		}
		uid, err := strconv.Atoi(fields[7])
		return uid, true, err
	}
	if err := sc.Err(); err != nil {
		return 0, false, err
	}
	return 0, false, errors.New("the connecting socket is not in " + table)
}

// hexAddr writes a in the kernel table's form: the address as 32-bit
// words in the machine's byte order, then the port, in hex.
func hexAddr(a *net.TCPAddr) string {
	var sb strings.Builder
	ip := a.IP.To4()
	if ip == nil {
		ip = a.IP.To16()
	}
	for i := 0; i < len(ip); i += 4 {
		fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(ip[i:i+4]))
	}
	fmt.Fprintf(&sb, ":%04X", a.Port)
	return sb.String()
}
