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
func owner(c net.Conn) (uid int, inode string, known bool, err error) {
	local, ok1 := c.RemoteAddr().(*net.TCPAddr)
	remote, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0, "", false, nil
	}
	table := "/proc/net/tcp"
	if local.IP.To4() == nil {
		table = "/proc/net/tcp6"
	}
	want := [2]string{hexAddr(local), hexAddr(remote)}
	f, err := os.Open(table)
	if err != nil {
		return 0, "", false, fmt.Errorf("read %s: %w", table, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[1] != want[0] || fields[2] != want[1] {
			continue
		}
		uid, err := strconv.Atoi(fields[7])
		return uid, fields[9], true, err
	}
	if err := sc.Err(); err != nil {
		return 0, "", false, err
	}
	return 0, "", false, errors.New("the connecting socket is not in " + table)
}

// findProcess finds the process that holds the socket inode among this
// user's processes (/proc/PID/fd), and names it.
func findProcess(inode string) (Process, error) {
	target := "socket:[" + inode + "]"
	pids, err := os.ReadDir("/proc")
	if err != nil {
		return Process{}, err
	}
	for _, e := range pids {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		fds, err := os.ReadDir("/proc/" + e.Name() + "/fd")
		if err != nil {
			continue // another user's, or gone
		}
		for _, fd := range fds {
			if l, err := os.Readlink("/proc/" + e.Name() + "/fd/" + fd.Name()); err == nil && l == target {
				return describe(pid), nil
			}
		}
	}
	return Process{}, errors.New("no process holds the connecting socket")
}

// describe names process pid from its command line and working folder.
func describe(pid int) Process {
	p := Process{PID: pid}
	dir := "/proc/" + strconv.Itoa(pid)
	p.Dir, _ = os.Readlink(dir + "/cwd")
	b, _ := os.ReadFile(dir + "/cmdline")
	p.Name = Name(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"))
	return p
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
