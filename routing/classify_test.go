package routing

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"byokd.dev/byok"
)

// classifyCases holds the expected verdict for every file in
// testdata/errors, with the member's "fall back on rate limits" switch off
// and on.
var classifyCases = []struct {
	file    string
	off, on Verdict
}{
	// OpenAI: the code decides, not the status.
	{"openai_401_invalid_api_key.http", cannotPay(ReasonInvalidKey), cannotPay(ReasonInvalidKey)},
	{"openai_401_account_deactivated.http", cannotPay(ReasonDeactivated), cannotPay(ReasonDeactivated)},
	{"openai_401_missing_scopes.http", moveOn(ReasonNotPermitted), moveOn(ReasonNotPermitted)},
	{"openai_429_insufficient_quota.http", cannotPay(ReasonQuota), cannotPay(ReasonQuota)},
	{"openai_429_billing_not_active.http", cannotPay(ReasonBilling), cannotPay(ReasonBilling)},
	{"openai_429_rate_limit_exceeded.http", rateLimit(ReasonRateLimited, false), rateLimit(ReasonRateLimited, true)},
	{"openai_403_unsupported_country.http", cannotPay(ReasonRegion), cannotPay(ReasonRegion)},
	{"openai_403_model_access.http", moveOn(ReasonNotPermitted), moveOn(ReasonNotPermitted)},
	{"openai_400_context_length_exceeded.http", Verdict{}, Verdict{}},
	{"openai_404_model_not_found.http", Verdict{}, Verdict{}},
	{"openai_500_server_error.http", Verdict{}, Verdict{}},

	// Anthropic: billing trouble hides in 400s; a 429 without retry-after
	// is a spend cap.
	{"anthropic_401_authentication_error.http", cannotPay(ReasonInvalidKey), cannotPay(ReasonInvalidKey)},
	{"anthropic_402_billing_error.http", cannotPay(ReasonBilling), cannotPay(ReasonBilling)},
	{"anthropic_403_permission_error.http", moveOn(ReasonNotPermitted), moveOn(ReasonNotPermitted)},
	{"anthropic_400_credit_balance_too_low.http", cannotPay(ReasonBilling), cannotPay(ReasonBilling)},
	{"anthropic_400_usage_limits_reached.http", cannotPay(ReasonSpendLimit), cannotPay(ReasonSpendLimit)},
	{"anthropic_400_workspace_usage_limits_reached.http", cannotPay(ReasonSpendLimit), cannotPay(ReasonSpendLimit)},
	{"anthropic_400_organization_disabled.http", cannotPay(ReasonDeactivated), cannotPay(ReasonDeactivated)},
	{"anthropic_400_invalid_request.http", Verdict{}, Verdict{}},
	{"anthropic_404_not_found.http", Verdict{}, Verdict{}},
	{"anthropic_429_rate_limit_retry_after.http", rateLimit(ReasonRateLimited, false), rateLimit(ReasonRateLimited, true)},
	{"anthropic_429_spend_cap_no_retry_after.http", cannotPay(ReasonSpendLimit), cannotPay(ReasonSpendLimit)},
	{"anthropic_529_overloaded.http", rateLimit(ReasonOverloaded, false), rateLimit(ReasonOverloaded, true)},
	{"anthropic_500_api_error.http", Verdict{}, Verdict{}},

	// ClickUp: OAUTH_ 401s and 429s move on.
	{"clickup_401_token_invalid.http", cannotPay(ReasonInvalidKey), cannotPay(ReasonInvalidKey)},
	{"clickup_401_oauth_token_not_found.http", cannotPay(ReasonInvalidKey), cannotPay(ReasonInvalidKey)},
	{"clickup_401_team_not_authorized.http", moveOn(ReasonNotPermitted), moveOn(ReasonNotPermitted)},
	{"clickup_429_rate_limit_reached.http", rateLimit(ReasonRateLimited, true), rateLimit(ReasonRateLimited, true)},
	{"clickup_400_list_id_invalid.http", Verdict{}, Verdict{}},
	{"clickup_400_task_id_invalid.http", Verdict{}, Verdict{}},
}

func moveOn(reason string) Verdict { return Verdict{Fallback: true, Reason: reason} }

func rateLimit(reason string, fallback bool) Verdict {
	return Verdict{Fallback: fallback, Reason: reason, RateLimit: true}
}

// readFailure parses a testdata file as the HTTP response it is.
func readFailure(t testing.TB, file string) (byok.Service, Failure) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "errors", file))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	svc, err := byok.ParseService(strings.SplitN(file, "_", 2)[0])
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return svc, Failure{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func TestClassify_ProviderErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.http"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, c := range classifyCases {
		want[c.file] = true
	}
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s has no expected verdict in classifyCases", f)
		}
		delete(want, filepath.Base(f))
	}
	for f := range want {
		t.Errorf("classifyCases names %s, which is not in testdata/errors", f)
	}

	for _, c := range classifyCases {
		t.Run(c.file, func(t *testing.T) {
			svc, f := readFailure(t, c.file)
			if got := Classify(svc, f, false); got != c.off {
				t.Errorf("rate-limit fallback off: got %+v, want %+v", got, c.off)
			}
			if got := Classify(svc, f, true); got != c.on {
				t.Errorf("rate-limit fallback on: got %+v, want %+v", got, c.on)
			}
		})
	}
}

// The proxy may hand over the body as the provider sent it, compressed.
func TestClassify_GzipBody(t *testing.T) {
	for _, file := range []string{"openai_429_insufficient_quota.http", "anthropic_400_credit_balance_too_low.http"} {
		svc, f := readFailure(t, file)
		want := Classify(svc, f, false)
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(f.Body)
		zw.Close()
		f.Body = buf.Bytes()
		f.Header = f.Header.Clone()
		f.Header.Set("Content-Encoding", "gzip")
		if got := Classify(svc, f, false); got != want {
			t.Errorf("%s gzipped: got %+v, want %+v", file, got, want)
		}
	}
}

// Bodies that are not the provider's JSON: a gateway's HTML page, nothing at
// all. Classify falls back to the status alone and never panics.
func TestClassify_UnexpectedBodies(t *testing.T) {
	html := []byte("<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many Requests</h1></center><hr><center>cloudflare</center></body></html>\n")
	cases := []struct {
		name string
		svc  byok.Service
		f    Failure
		want Verdict
	}{
		{"openai 429 html", byok.OpenAI, Failure{Status: 429, Body: html}, rateLimit(ReasonRateLimited, false)},
		{"anthropic 429 html", byok.Anthropic, Failure{Status: 429, Body: html}, rateLimit(ReasonRateLimited, false)},
		{"anthropic 529 empty", byok.Anthropic, Failure{Status: 529}, rateLimit(ReasonOverloaded, false)},
		{"openai 401 empty", byok.OpenAI, Failure{Status: 401}, cannotPay(ReasonInvalidKey)},
		{"openai 400 error string", byok.OpenAI, Failure{Status: 400, Body: []byte(`{"error":"bad"}`)}, Verdict{}},
		{"openai numeric code", byok.OpenAI, Failure{Status: 400, Body: []byte(`{"error":{"message":"x","code":400}}`)}, Verdict{}},
		{"clickup 401 without ECODE", byok.ClickUp, Failure{Status: 401, Body: []byte(`{"err":"nope"}`)}, Verdict{}},
		{"clickup 401 OAUTH_017", byok.ClickUp, Failure{Status: 401, Body: []byte(`{"err":"Authorization header required","ECODE":"OAUTH_017"}`)}, moveOn(ReasonUnauthorized)},
		{"not an error", byok.OpenAI, Failure{Status: 200}, Verdict{}},
		{"unknown service", byok.Service("gemini"), Failure{Status: 401}, Verdict{}},
		{"garbage gzip", byok.OpenAI, Failure{Status: 429, Header: http.Header{"Content-Encoding": {"gzip"}}, Body: []byte("not gzip")}, rateLimit(ReasonRateLimited, false)},
	}
	for _, c := range cases {
		if got := Classify(c.svc, c.f, false); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// Connection failures come from a real client against real listeners.
func TestClassify_ConnectionFailures(t *testing.T) {
	// Refused: a port nothing listens on any more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	// Reset before any byte: the server hangs up on the request.
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	defer hangup.Close()

	// Timeout: the server answers only when the test ends.
	stop := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-stop
	}))
	defer stall.Close()
	defer close(stop) // before Close, which waits for the handlers

	get := func(ctx context.Context, client *http.Client, url string) error {
		req, err := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s answered %s", url, resp.Status)
		}
		return err
	}
	plain := &http.Client{Transport: &http.Transport{}}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	cases := []struct {
		name string
		err  error
		want Verdict
	}{
		{"refused", get(context.Background(), plain, refused), moveOn(ReasonConnFailed)},
		{"hung up", get(context.Background(), plain, hangup.URL), moveOn(ReasonConnFailed)},
		{"client timeout", get(context.Background(), &http.Client{Timeout: 50 * time.Millisecond}, stall.URL), moveOn(ReasonTimeout)},
		{"header timeout", get(context.Background(), &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}}, stall.URL), moveOn(ReasonTimeout)},
		{"client went away", get(canceled, plain, stall.URL), Verdict{Reason: ReasonCanceled}},
	}
	for _, c := range cases {
		for _, svc := range byok.Services() {
			for _, rl := range []bool{false, true} {
				if got := Classify(svc, Failure{ConnErr: c.err}, rl); got != c.want {
					t.Errorf("%s (%v) %s, rate-limit fallback %v: got %+v, want %+v", c.name, c.err, svc, rl, got, c.want)
				}
			}
		}
	}
	if got := Classify(byok.OpenAI, Failure{ConnErr: errors.New("tls: handshake failure")}, false); got != moveOn(ReasonConnFailed) {
		t.Errorf("tls failure: got %+v", got)
	}
}
