package upstream

import (
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// Timeouts bound how long a party that does not answer can hold a call.
// Zero fields take the defaults. Once a response has begun nothing is
// bounded: streams may run for minutes.
type Timeouts struct {
	// Connect bounds the TCP connect and the TLS handshake; default 10 s.
	Connect time.Duration
	// FirstByte bounds the wait for the response's headers after the
	// request was sent; default 10 minutes (a long non-streamed answer
	// from a reasoning model comes only when it is done).
	FirstByte time.Duration
}

// Default timeouts.
const (
	DefaultConnectTimeout   = 10 * time.Second
	DefaultFirstByteTimeout = 10 * time.Minute
)

// NewTransport returns the upstream transport: pooled keep-alive
// connections, bounded connects and waits for the first byte, no redirects
// followed (http.Transport follows none).
func NewTransport(t Timeouts) *http.Transport {
	if t.Connect <= 0 {
		t.Connect = DefaultConnectTimeout
	}
	if t.FirstByte <= 0 {
		t.FirstByte = DefaultFirstByteTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = t.Connect
	tr.MaxIdleConnsPerHost = 256
	tr.MaxIdleConns = 1024
	tr.ResponseHeaderTimeout = t.FirstByte
	return tr
}

// buffers lends the 32 KiB copy buffers of the reverse proxy. Without a
// pool httputil.ReverseProxy allocates one per response: over half of the
// bytes a call allocates, and so most of the garbage collector's work.
var buffers httputil.BufferPool = &bufferPool{pool: sync.Pool{New: func() any { return new([32 << 10]byte) }}}

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte { return b.pool.Get().(*[32 << 10]byte)[:] }
func (b *bufferPool) Put(p []byte) {
	if cap(p) == 32<<10 {
		b.pool.Put((*[32 << 10]byte)(p[:32<<10]))
	}
}
