package upstream

import (
	"context"
	"io"
	"sync"

	"byokd.dev/byok"
	"byokd.dev/byok/metering"
)

// recordFunc writes a call's usage row once its response has ended, with
// the status the client saw (499 when it went away). It must write it even
// when ctx's request is over.
type recordFunc func(ctx context.Context, status int, u byok.Usage) error

// meteredBody wraps an upstream response body: the bytes go through m on
// their way to the client, and record writes the call's row before the last
// byte is released — on the provider's terminal event for streams, when
// Content-Length bytes are through for sized bodies, otherwise before EOF
// is reported (the chunked terminator is written only after that). If the
// row cannot be written the end is withheld: the client sees a broken
// response, never a complete one without its record. length is -1 when
// unknown.
func meteredBody(ctx context.Context, inner io.ReadCloser, m *metering.Meter, status int, length int64, record recordFunc) io.ReadCloser {
	return &metered{record: record, m: m, inner: inner, ctx: ctx, status: status, length: length}
}

type metered struct {
	record recordFunc
	m      *metering.Meter
	inner  io.ReadCloser
	ctx    context.Context
	status int
	length int64 // -1 when unknown
	read   int64
	pend   []byte // filtered bytes not yet handed to the reader
	eof    bool

	once   sync.Once
	rowErr error
}

func (b *metered) Read(p []byte) (int, error) {
	for len(b.pend) == 0 {
		if b.eof {
			b.commit(b.status)
			return 0, firstErr(b.rowErr, io.EOF)
		}
		n, err := b.inner.Read(p)
		if n > 0 {
			b.read += int64(n)
			out, terminal := b.m.Filter(p[:n])
			sized := b.length >= 0 && b.read >= b.length
			if sized {
				// The whole body is in: the meter reads its last line.
				if tail := b.m.Flush(); len(tail) > 0 {
					out = append(append(b.pend[:0], out...), tail...)
				}
			}
			if terminal || sized {
				b.commit(b.status)
				if b.rowErr != nil {
					return 0, b.rowErr // withhold the end
				}
			}
			if len(out) > 0 {
				if len(out) <= len(p) && &out[0] == &p[0] {
					return len(out), nil
				}
				b.pend = append(b.pend[:0], out...)
			}
		}
		if err == io.EOF {
			b.pend = append(b.pend, b.m.Flush()...)
			b.eof = true
			continue
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, b.pend)
	b.pend = b.pend[n:]
	return n, nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Close records the call if it ended early: the client went away (499) or
// the upstream broke off; the row then says what was seen and that it is
// incomplete.
func (b *metered) Close() error {
	err := b.inner.Close()
	status := b.status
	if b.ctx.Err() != nil {
		status = StatusClientGone
	}
	b.commit(status)
	return err
}

func (b *metered) commit(status int) {
	b.once.Do(func() {
		// The row must be written even when the client has gone.
		b.rowErr = b.record(context.WithoutCancel(b.ctx), status, b.m.Usage())
	})
}
