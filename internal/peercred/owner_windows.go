package peercred

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows names a TCP connection's owning process in its TCP table
// (GetExtendedTcpTable); the process's token names its user.

var procGetExtendedTCPTable = windows.NewLazySystemDLL("iphlpapi.dll").NewProc("GetExtendedTcpTable")

const tcpTableOwnerPIDAll = 5 // TCP_TABLE_OWNER_PID_ALL

// Row sizes of MIB_TCPROW_OWNER_PID and MIB_TCP6ROW_OWNER_PID.
const (
	row4Size = 24 // state, local addr, local port, remote addr, remote port, pid
	row6Size = 56 // local addr[16], scope, port, remote addr[16], scope, port, state, pid
)

// owner finds the row of the connecting socket — local address c's
// remote one, remote address c's local one — and the user of its
// process. A process byokd may not open is another user's (or the
// system's).
func owner(c net.Conn) (peer, error) {
	local, ok1 := c.RemoteAddr().(*net.TCPAddr)
	remote, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return peer{}, nil
	}
	pid, err := owningPID(local, remote)
	if err != nil {
		return peer{}, err
	}
	p := peer{known: true, who: "pid " + strconv.Itoa(int(pid)), key: strconv.Itoa(int(pid))}
	sid, err := processUser(pid)
	if err != nil {
		return p, nil // not self
	}
	mine, err := selfSID()
	if err != nil {
		return peer{}, err
	}
	p.who, p.self = sid.String(), sid.Equals(mine)
	return p, nil
}

// owningPID reads the TCP table of local's family and finds the row.
func owningPID(local, remote *net.TCPAddr) (uint32, error) {
	family, size := uint32(windows.AF_INET), row4Size
	if local.IP.To4() == nil {
		family, size = windows.AF_INET6, row6Size
	}
	var buf []byte
	n := uint32(0)
	for range 8 { // the table may grow between the size query and the read
		var p uintptr
		if len(buf) > 0 {
			p = uintptr(unsafe.Pointer(&buf[0]))
		}
		r, _, _ := procGetExtendedTCPTable.Call(p, uintptr(unsafe.Pointer(&n)), 0, uintptr(family), tcpTableOwnerPIDAll, 0)
		if r == 0 && len(buf) > 0 {
			break
		}
		if r != 0 && windows.Errno(r) != windows.ERROR_INSUFFICIENT_BUFFER {
			return 0, fmt.Errorf("read the TCP table: %w", windows.Errno(r))
		}
		buf = make([]byte, n)
	}
	if len(buf) < 4 {
		return 0, errors.New("read the TCP table: it kept growing")
	}
	rows := int(binary.LittleEndian.Uint32(buf))
	for i := range rows {
		off := 4 + i*size
		if off+size > len(buf) {
			break
		}
		row := buf[off : off+size]
		var lip, rip []byte
		var lport, rport, pid []byte
		if size == row4Size {
			lip, lport, rip, rport, pid = row[4:8], row[8:12], row[12:16], row[16:20], row[20:24]
		} else {
			lip, lport, rip, rport, pid = row[0:16], row[20:24], row[24:40], row[44:48], row[52:56]
		}
		if sameAddr(lip, lport, local) && sameAddr(rip, rport, remote) {
			return binary.LittleEndian.Uint32(pid), nil
		}
	}
	return 0, errors.New("the connecting socket is not in the TCP table")
}

// sameAddr compares a table address (network order) and port (the first
// two bytes, network order) with a.
func sameAddr(ip, port []byte, a *net.TCPAddr) bool {
	want := a.IP.To4()
	if len(ip) == 16 {
		want = a.IP.To16()
	}
	return net.IP(ip).Equal(want) && int(port[0])<<8|int(port[1]) == a.Port
}

// processUser is the SID of the user whose token process pid runs with.
func processUser(pid uint32) (*windows.SID, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(h)
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return nil, err
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return nil, err
	}
	return tu.User.Sid.Copy()
}

func selfSID() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, err
	}
	return tu.User.Sid, nil
}

func selfName() string {
	if sid, err := selfSID(); err == nil {
		if account, domain, _, err := sid.LookupAccount(""); err == nil {
			return domain + `\` + account
		}
		return sid.String()
	}
	return "this user"
}

// findProcess is not done on Windows: naming a process by its script
// and working folder needs its command line, which Windows keeps in the
// process's own memory. Tokens stay required there.
func findProcess(string) (Process, error) { return Process{}, errors.ErrUnsupported }
