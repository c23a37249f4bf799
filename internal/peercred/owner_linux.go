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
	"syscall"

	"golang.org/x/sys/unix"
)

// owner finds the connecting socket of c — the one whose local address
// is c's remote one and whose remote address is c's local one — and
// the uid that owns it, and its inode. It asks the kernel for that one
// socket (sock_diag over netlink), and reads the whole TCP table only
// where that is not available: the table holds every socket of the
// machine, tens of thousands under load.
func owner(c net.Conn) (peer, error) {
	local, ok1 := c.RemoteAddr().(*net.TCPAddr)
	remote, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return peer{}, nil
	}
	uid, inode, err := diag(local, remote)
	if err != nil {
		if uid, inode, err = scanTable(local, remote); err != nil {
			return peer{}, err
		}
	}
	return peer{known: true, self: uid == os.Getuid(), who: "uid " + strconv.Itoa(uid), key: inode}, nil
}

func selfName() string { return "uid " + strconv.Itoa(os.Getuid()) }

// diag asks the kernel (NETLINK_SOCK_DIAG) for the TCP socket from local
// to remote.
func diag(local, remote *net.TCPAddr) (uid int, inode string, err error) {
	family, src, dst := byte(unix.AF_INET), local.IP.To4(), remote.IP.To4()
	if src == nil || dst == nil {
		family, src, dst = unix.AF_INET6, local.IP.To16(), remote.IP.To16()
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_INET_DIAG)
	if err != nil {
		return 0, "", err
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 1}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	// struct nlmsghdr, then struct inet_diag_req_v2 (linux/inet_diag.h).
	req := make([]byte, 16+56)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1)
	r := req[16:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	id := r[8:]                     // struct inet_diag_sockid: ports and addresses in network order
	binary.BigEndian.PutUint16(id[0:], uint16(local.Port))
	binary.BigEndian.PutUint16(id[2:], uint16(remote.Port))
	copy(id[4:20], src)
	copy(id[20:36], dst)
	ne.PutUint32(id[40:], 0xffffffff) // INET_DIAG_NOCOOKIE
	ne.PutUint32(id[44:], 0xffffffff)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, "", err
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, "", err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, "", err
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if code := int32(ne.Uint32(m.Data)); code != 0 {
					return 0, "", syscall.Errno(-code)
				}
			}
			return 0, "", errors.New("sock_diag: error without a code")
		case unix.SOCK_DIAG_BY_FAMILY:
			// struct inet_diag_msg: family, state, timer, retrans, the
			// sockid (48 bytes), expires, rqueue, wqueue, uid, inode.
			if len(m.Data) < 72 {
				return 0, "", errors.New("sock_diag: short answer")
			}
			return int(ne.Uint32(m.Data[64:])), strconv.FormatUint(uint64(ne.Uint32(m.Data[68:])), 10), nil
		}
	}
	return 0, "", errors.New("sock_diag: no answer for the socket")
}

// scanTable finds the socket in /proc/net/tcp{,6}.
func scanTable(local, remote *net.TCPAddr) (uid int, inode string, err error) {
	table := "/proc/net/tcp"
	if local.IP.To4() == nil {
		table = "/proc/net/tcp6"
	}
	want := [2]string{hexAddr(local), hexAddr(remote)}
	f, err := os.Open(table)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", table, err)
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
		return uid, fields[9], err
	}
	if err := sc.Err(); err != nil {
		return 0, "", err
	}
	return 0, "", errors.New("the connecting socket is not in " + table)
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
