package upstream

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"byokd.dev/byok"
	"byokd.dev/byok/metering"
)

// DefaultMaxBody is the largest request body read by default.
const DefaultMaxBody = 32 << 20

// ReadCall reads in's body (at most maxBody bytes) and what metering
// learns from it, for svc's escaped path below the service prefix: the
// Call to forward, without credentials, or why it cannot be.
func (f *Forwarder) ReadCall(w http.ResponseWriter, in *http.Request, svc byok.Service, path string, maxBody int64) (*Call, *byok.Refusal) {
	if ref := f.MethodRefusal(svc, in.Method); ref != nil {
		return nil, ref
	}
	body, err := readBody(w, in, maxBody)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &byok.Refusal{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Message: fmt.Sprintf("%s: request body over the %d MiB limit (max_body_mib in the config raises it)", f.cfg.Who, maxBody>>20)}
		}
		return nil, &byok.Refusal{Status: http.StatusBadRequest, Code: "bad_body",
			Message: f.cfg.Who + ": could not read the request body: " + errText(err)}
	}
	plain, err := url.PathUnescape(path)
	if err != nil {
		return nil, &byok.Refusal{Status: http.StatusBadRequest, Code: "bad_path",
			Message: f.cfg.Who + ": the request path is not validly escaped"}
	}
	out, mc, err := metering.Inspect(svc, plain, body)
	if err != nil {
		return nil, &byok.Refusal{Status: http.StatusBadRequest, Code: "unreadable_body",
			Message: f.cfg.Who + ": not sent: " + err.Error()}
	}
	return &Call{Service: svc, Method: in.Method, Path: path, Body: out, Meter: mc}, nil
}

// MethodRefusal refuses a method no provider's API takes.
func (f *Forwarder) MethodRefusal(svc byok.Service, method string) *byok.Refusal {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return nil
	}
	return &byok.Refusal{Status: http.StatusMethodNotAllowed, Code: "bad_method",
		Message: fmt.Sprintf("%s: the %s API takes no %s requests", f.cfg.Who, svc.Title(), clipMethod(method))}
}

// clipMethod bounds a client's method name for a message.
func clipMethod(m string) string {
	if len(m) > 20 {
		m = m[:20] + "…"
	}
	return strconv.Quote(m)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength > 0 {
		// One allocation of the right size, where io.ReadAll grows its
		// buffer from 512 bytes; a body longer than it said fails in net/http.
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(body)
}
