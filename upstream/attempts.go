package upstream

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"

	"byokd.dev/byok"
)

// attempts is the ReverseProxy's transport: it tries the call's credentials
// in order, replaying the buffered body, and moves on only when the Fallback
// allows it. Every failure it moves on from is read (bounded) and closed;
// nothing of it reaches the client.
//
// A failure without an answer moves on only if the request certainly never
// left: a dial refused, a name that did not resolve, a TLS handshake that
// failed. Once any of it may have been written (a timeout waiting for the
// answer, a connection reset mid-request) the provider may have received
// it and may bill it, so another credential would make it pay twice.
type attempts struct{ f *Forwarder }

func (a *attempts) RoundTrip(out *http.Request) (*http.Response, error) {
	f := a.f
	st := stateOf(out)
	var (
		// Why the credential used is not the member's first choice: the
		// plan's reason for the first (a skipped key), then each failure.
		reason   = st.Credentials[0].Reason
		lastResp *http.Response // the failure that led to the next credential
		lastErr  error
		lastCred Credential
	)
	for i, cred := range st.Credentials {
		if i > 0 && cred.Approve != nil && !cred.Approve(out.Context()) {
			break
		}
		last := i == len(st.Credentials)-1
		resp, sent, err := f.send(out, st, cred, last)
		lastCred, lastResp, lastErr = cred, nil, err
		if err != nil {
			if out.Context().Err() != nil || last || f.cfg.Fallback == nil || sent {
				break
			}
			next, why := f.cfg.Fallback(st.Call, cred, nil, err)
			if !next {
				break
			}
			reason = why
			continue
		}
		if resp.StatusCode < 400 {
			st.used, st.fallback = cred, reason
			return resp, nil
		}
		failed, err := readFailure(resp, cred.Secret)
		if err != nil {
			lastErr = err
			break
		}
		resp.Body = io.NopCloser(bytes.NewReader(failed.Body))
		resp.ContentLength = int64(len(failed.Body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(failed.Body)))
		resp.Header.Del("Transfer-Encoding")
		lastResp = resp
		if last || f.cfg.Fallback == nil {
			break
		}
		next, why := f.cfg.Fallback(st.Call, cred, failed, nil)
		if !next {
			break
		}
		reason = why
	}
	st.used, st.fallback = lastCred, reason
	if lastResp != nil {
		return lastResp, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no credential answered")
	}
	return nil, lastErr
}

// send makes one attempt with cred, replaying the buffered body. sent
// reports whether any of the request may have been written; it is known
// only when another credential may follow (not last).
func (f *Forwarder) send(out *http.Request, st *callState, cred Credential, last bool) (_ *http.Response, sent bool, err error) {
	var wrote atomic.Bool
	req := out // the ReverseProxy's own copy: the last attempt may sign it
	if !last {
		// The next attempt needs out unsigned, and whether this one left.
		trace := &httptrace.ClientTrace{
			WroteHeaderField: func(string, []string) { wrote.Store(true) },
			WroteHeaders:     func() { wrote.Store(true) },
		}
		req = out.Clone(httptrace.WithClientTrace(out.Context(), trace))
	}
	f.target(req, st, cred)
	if cred.Relay != nil {
		signRelay(req.Header, cred.Secret, st.Call)
	} else {
		Sign(st.Service, req.Header, cred.Secret)
	}
	if body := st.Body; len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else {
		req.Body, req.GetBody, req.ContentLength = nil, nil, 0
	}
	resp, err := f.cfg.Transport.RoundTrip(req)
	return resp, wrote.Load(), err
}

// readFailure reads an error answer's body (at most MaxErrorBody) and
// scrubs the key from it and from its headers: some upstreams echo the key
// they got.
func readFailure(resp *http.Response, key byok.Secret) (*FailedResponse, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	if err != nil {
		return nil, err
	}
	k := key.Reveal()
	if len(k) >= minScrub {
		b = bytes.ReplaceAll(b, []byte(k), mask(len(k)))
	}
	scrubHeaderValue(resp.Header, k)
	return &FailedResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

var _ http.RoundTripper = (*attempts)(nil)
