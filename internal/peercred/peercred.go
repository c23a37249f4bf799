// Package peercred keeps a loopback listener to the user who runs it: on
// every accepted connection it learns which local user owns the
// connecting socket, before any handler sees the request (on Linux from
// the kernel's socket table, on Windows from the TCP table's owning
// process and that process's token), and answers any other user with a
// 403 and a close. Another user of the machine can then neither spend
// your keys through the proxy nor reach the control API or the pages,
// whatever it knows of tokens or cookies. Where the system does not say
// (macOS), every connection is accepted and tokens alone guard it.
package peercred

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Listener accepts only connections from processes of this user. Where
// the system does not tell a socket's owner (macOS) it accepts all.
type Listener struct {
	net.Listener
	surface string
	log     *slog.Logger
	refused atomic.Int64
}

// Only wraps ln; surface names it in messages ("the proxy").
func Only(ln net.Listener, surface string, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, surface: surface, log: log}
}

// peer is what the system says of a connection's other end.
type peer struct {
	known bool   // the system told the owner
	self  bool   // the owner is the user running this process
	who   string // the owner, for the log: "uid 1001", a Windows SID
	key   string // what finds its process: the socket's inode, or the pid
}

// Accept returns the next connection of this user's processes.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p, err := owner(c)
		if err == nil && !p.known {
			return c, nil
		}
		if err == nil && p.self {
			return &Conn{Conn: c, key: p.key}, nil
		}
		l.refused.Add(1)
		if err != nil {
			l.log.Warn("connection refused: its owner could not be told", "surface", l.surface, "remote", c.RemoteAddr().String(), "err", err)
		} else {
			l.log.Warn("connection refused: another local user", "surface", l.surface, "user", p.who, "remote", c.RemoteAddr().String())
		}
		go refuse(c, fmt.Sprintf("byokd: refused: %s serves only the user who runs byokd (%s); run your own byokd", l.surface, selfName()))
	}
}

// Conn is a connection whose owner was told: a process of this user. The
// HTTP server puts it in each request's context (ConnContext).
type Conn struct {
	net.Conn
	key string // peer.key: finds its process

	once sync.Once
	proc Process
	err  error
}

// Process is the program on the other end of a Conn.
type Process struct {
	PID  int
	Name string // the executable, with the script for an interpreter: "claude", "python3 my_script.py"
	Dir  string // its working folder
}

// Process finds the process holding the connecting socket, once per
// connection.
func (c *Conn) Process() (Process, error) {
	c.once.Do(func() { c.proc, c.err = findProcess(c.key) })
	return c.proc, c.err
}

type connKey struct{}

// ConnContext is an http.Server ConnContext that makes FromContext work.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, connKey{}, pc)
	}
	return ctx
}

// FromContext is the request's connection, if its owner was told to be
// this user.
func FromContext(ctx context.Context) (*Conn, bool) {
	c, ok := ctx.Value(connKey{}).(*Conn)
	return c, ok
}

// Refused is how many connections other users made.
func (l *Listener) Refused() int64 { return l.refused.Load() }

// refuse answers an HTTP client that it is refused, and closes. It waits
// for the request's head first (bounded in size and time), unread: an
// answer that came before the request would reach the client as an
// unsolicited response and be dropped, leaving it no reason.
func refuse(c net.Conn, msg string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	head := make([]byte, 0, 1024)
	buf := make([]byte, 1024)
	for len(head) < 16<<10 && !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := c.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			break
		}
	}
	body := msg + "\n"
	fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}
