// Package jsonapi is the client side of byokd's own loopback JSON APIs —
// the daemon's control API and the hub's admin API: the state file and
// token a running server leaves in its folder, bearer-token requests, and
// error replies mapped back to the sentinel errors their codes name.
package jsonapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"byokd.dev/byok"
)

// Client calls one API. It is safe for concurrent use.
type Client struct {
	base    string
	token   byok.Secret
	hc      *http.Client
	api     string           // for messages: "control API", "hub admin API"
	refused error            // what nothing listening means
	codes   map[string]error // error reply codes → the sentinel to wrap
}

// New returns a Client for the API at addr (host:port). refused is returned
// when nothing listens there; an error reply whose code is in codes wraps
// that error.
func New(addr string, token byok.Secret, api string, refused error, codes map[string]error) *Client {
	return &Client{base: "http://" + addr, token: token, hc: &http.Client{Timeout: 30 * time.Second},
		api: api, refused: refused, codes: codes}
}

// ReadState reads a running server's JSON state file into state and its
// token file, both in folder. A missing state file means notRunning.
func ReadState(folder, stateFile, tokenFile string, state any, notRunning error) (byok.Secret, error) {
	b, err := os.ReadFile(filepath.Join(folder, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return byok.Secret{}, notRunning
	}
	if err != nil {
		return byok.Secret{}, fmt.Errorf("read %s: %w", stateFile, err)
	}
	if err := json.Unmarshal(b, state); err != nil {
		return byok.Secret{}, fmt.Errorf("read %s: %w", stateFile, err)
	}
	tok, err := os.ReadFile(filepath.Join(folder, tokenFile))
	if err != nil {
		return byok.Secret{}, fmt.Errorf("read the token: %w", err)
	}
	return byok.NewSecret(strings.TrimSpace(string(tok))), nil
}

// maxError bounds an error reply's body.
const maxError = 1 << 20

// Do sends in (if not nil) as JSON and decodes the reply into out (if not
// nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return c.refused
		}
		return fmt.Errorf("byokd: %s: %w", c.api, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var eb struct {
			Error string `json:"error"`
			Code  string `json:"code"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, maxError)).Decode(&eb)
		if eb.Error == "" {
			eb.Error = resp.Status
		}
		if sentinel := c.codes[eb.Code]; sentinel != nil {
			return &coded{sentinel: sentinel, msg: eb.Error}
		}
		return errors.New(eb.Error)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Stream sends a GET for a long-lived reply (an event stream): no
// timeout but ctx. The caller reads and closes the body.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token.Reveal())
	resp, err := (&http.Client{Transport: c.hc.Transport}).Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, c.refused
		}
		return nil, fmt.Errorf("byokd: %s: %w", c.api, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("byokd: %s %s: %s", c.api, path, resp.Status)
	}
	return resp.Body, nil
}

// coded is an error the server named by its code: it says what the server
// said (which already names the kind), and errors.Is finds the kind.
type coded struct {
	sentinel error
	msg      string
}

func (e *coded) Error() string { return e.msg }
func (e *coded) Unwrap() error { return e.sentinel }
