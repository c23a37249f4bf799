package hub

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"byokd.dev/byok"
	"byokd.dev/byok/internal/jsonapi"
	"byokd.dev/byok/internal/loopback"
	"byokd.dev/byok/internal/peercred"
	"byokd.dev/byok/internal/privfile"
	"byokd.dev/byok/metering"
	"byokd.dev/byok/teamsync"
	"byokd.dev/byok/upstream"
)

// DefaultListen is the public listener's address: loopback, for a
// try-out; a team hub listens on 0.0.0.0:8443 with TLS.
const DefaultListen = "127.0.0.1:8443"

// Files in the hub's state folder.
const (
	DBFile     = "hub.db"      // the default SQLite store
	KeysFile   = "keys.enc"    // the encrypted-file keystore, when used
	StateFile  = "hub.json"    // State, while the hub runs
	TokenFile  = "admin.token" // the admin API's bearer token, mode 0600
	PricesFile = "prices.json" // optional price overrides
)

// Defaults for lifetimes.
const (
	DefaultInviteTTL  = 7 * 24 * time.Hour
	DefaultLoginTTL   = 15 * time.Minute
	DefaultSessionTTL = 12 * time.Hour
	DefaultMaxBody    = 32 << 20
	DefaultCapHold    = byok.Micros(1_000_000) // $1
)

// SecretStore holds the shared keys; keystore.Store satisfies it.
type SecretStore interface {
	Get(ref string) (byok.Secret, error)
	Set(ref string, s byok.Secret) error
	Delete(ref string) error
}

// Config is a hub's dependencies. Data, Store and Keys are required.
type Config struct {
	Data        string // the state folder ($BYOKD_HUB_HOME or --data)
	Listen      string // public address; default DefaultListen
	AdminListen string // admin API address; default 127.0.0.1:0; loopback only
	// PublicURL is how members reach the hub, for login links; default
	// derived from Listen and TLS.
	PublicURL       string
	TLSCert, TLSKey string
	// Insecure allows plain http on an address that is not loopback (TLS
	// terminated in front of the hub).
	Insecure  bool
	Store     Store
	Keys      SecretStore
	Upstreams map[byok.Service]*url.URL // default the providers' public APIs
	// Prices are the prices under the team's price table (Store.Prices);
	// default metering.DefaultPrices().
	Prices *metering.Prices
	// Transport sends relayed calls; default one that never follows
	// redirects, with pooled connections.
	Transport http.RoundTripper
	MaxBody   int64
	// CapHold is how much of a member's allowance each relayed call holds
	// while in flight, when a cap is set (Store.ReserveShared); default
	// DefaultCapHold. A call may still cost more:
	// its cost is known only when it ends.
	CapHold    byok.Micros
	InviteTTL  time.Duration
	LoginTTL   time.Duration
	SessionTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
	NewID      func() string // device and event ids; default UUIDv7
	Version    string
	// Pages, if set, makes the web view (hub/dashboard) served under
	// /ui/ on the public listener, behind its gate.
	Pages func(*Server) http.Handler
}

// State is what StateFile holds while the hub runs.
type State struct {
	PID       int    `json:"pid"`
	Public    string `json:"public"`     // host:port of the public listener
	Admin     string `json:"admin"`      // host:port of the admin API
	PublicURL string `json:"public_url"` // for members
}

// Server is a running hub. Create it with Start, serve with Run.
type Server struct {
	cfg       Config
	log       *slog.Logger
	publicURL string
	loopback  bool // the public listener is on loopback

	publicLn, adminLn net.Listener
	publicSrv         *http.Server
	adminSrv          *http.Server
	gate              *loopback.Gate  // in front of the public routes
	api               *jsonapi.Server // the admin API
	rejected          atomic.Int64    // synced rows refused since start

	policy   atomic.Pointer[byok.Policy]
	policyMu sync.Mutex // serialises SetPolicy, SetPrices and their pushes
	prices   atomic.Pointer[teamsync.PriceTable]
	book     *metering.Book // what the relay prices by: Config.Prices under the team's table
	sessions *sessions
	relayer  *relayer
}

// Start checks cfg, opens both listeners and writes the admin token and
// state file. Nothing is served until Run.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Data == "" {
		return nil, errors.New("no hub state folder: set BYOKD_HUB_HOME or pass --data")
	}
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("hub: Store and Keys are required")
	}
	cfg.fill()
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "hub")}
	defer func() {
		if err != nil {
			s.closeListeners()
		}
	}()
	if err := PrepareData(cfg.Data); err != nil {
		return nil, err
	}
	p, err := cfg.Store.Policy(ctx)
	if err != nil {
		return nil, err
	}
	s.policy.Store(&p)
	if err := s.loadPrices(ctx); err != nil {
		return nil, err
	}
	tlsOn := cfg.TLSCert != "" || cfg.TLSKey != ""
	if tlsOn && (cfg.TLSCert == "" || cfg.TLSKey == "") {
		return nil, errors.New("give both --tls-cert and --tls-key, or neither")
	}
	if s.publicLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	host, port, _ := net.SplitHostPort(s.publicLn.Addr().String())
	ip := net.ParseIP(host)
	s.loopback = ip != nil && ip.IsLoopback()
	if !tlsOn && !s.loopback && !cfg.Insecure {
		return nil, fmt.Errorf("refusing plain http on %s, which other machines can reach: give --tls-cert and --tls-key, "+
			"listen on 127.0.0.1 for a try-out, or pass --insecure when TLS ends in front of the hub", cfg.Listen)
	}
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load the TLS certificate and key: %w", err)
		}
		s.publicLn = tls.NewListener(s.publicLn, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	}
	s.publicURL = cfg.PublicURL
	if s.publicURL == "" {
		scheme := "http"
		if tlsOn {
			scheme = "https"
		}
		if ip != nil && ip.IsUnspecified() {
			host = "localhost"
		}
		s.publicURL = scheme + "://" + net.JoinHostPort(host, port)
	}
	if _, err := url.Parse(s.publicURL); err != nil {
		return nil, fmt.Errorf("public URL %q: %w", s.publicURL, err)
	}
	if s.adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
		return nil, fmt.Errorf("listen for the admin API on %s: %w", cfg.AdminListen, err)
	}
	if ah, _, _ := net.SplitHostPort(s.adminLn.Addr().String()); !net.ParseIP(ah).IsLoopback() {
		return nil, fmt.Errorf("the admin API must listen on 127.0.0.1, not %s", cfg.AdminListen)
	}
	// Only the user who runs the hub may reach its admin API, whatever
	// another local user has read of the token.
	s.adminLn = peercred.Only(s.adminLn, "the hub's admin API", s.log)
	token := newSecret(adminPrefix)
	if err := privfile.Write(filepath.Join(cfg.Data, TokenFile), []byte(token+"\n")); err != nil {
		return nil, fmt.Errorf("write the admin token: %w", err)
	}
	st, _ := json.Marshal(State{PID: os.Getpid(), Public: s.publicLn.Addr().String(), Admin: s.adminLn.Addr().String(), PublicURL: s.publicURL})
	if err := privfile.Write(filepath.Join(cfg.Data, StateFile), st); err != nil {
		return nil, fmt.Errorf("write the hub state: %w", err)
	}
	s.sessions = newSessions()
	if s.relayer, err = newRelayer(s); err != nil {
		return nil, err
	}
	_, aport, _ := net.SplitHostPort(s.adminLn.Addr().String())
	s.publicSrv = newHTTPServer(s.publicHandler(port), s.log)
	s.api = s.adminAPI(byok.NewSecret(token), aport)
	s.adminSrv = newHTTPServer(s.api, s.log)
	return s, nil
}

func (c *Config) fill() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.AdminListen == "" {
		c.AdminListen = "127.0.0.1:0"
	}
	if c.Prices == nil {
		c.Prices = metering.DefaultPrices()
	}
	if c.Transport == nil {
		c.Transport = upstream.NewTransport(upstream.Timeouts{})
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.CapHold <= 0 {
		c.CapHold = DefaultCapHold
	}
	if c.InviteTTL <= 0 {
		c.InviteTTL = DefaultInviteTTL
	}
	if c.LoginTTL <= 0 {
		c.LoginTTL = DefaultLoginTTL
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// URL is the hub's public base URL.
func (s *Server) URL() string { return s.publicURL }

// Addr is the public listener's address.
func (s *Server) Addr() string { return s.publicLn.Addr().String() }

// Store is the hub's store, for the web view.
func (s *Server) Store() Store { return s.cfg.Store }

// Connected reports how many sync sessions each device id has open.
func (s *Server) Connected() map[string]int { return s.sessions.connected() }

// AdminAddr is the admin API's address.
func (s *Server) AdminAddr() string { return s.adminLn.Addr().String() }

// Run serves until ctx ends, then closes every sync session, gives
// in-flight relayed calls up to 30 seconds, and removes the state file.
// It returns once nothing of the server touches the Store any more.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("hub serving", "url", s.publicURL, "admin", s.adminLn.Addr().String())
	errc := make(chan error, 2)
	go func() { errc <- s.publicSrv.Serve(s.publicLn) }()
	go func() { errc <- s.adminSrv.Serve(s.adminLn) }()
	var watching sync.WaitGroup
	wctx, stopWatching := context.WithCancel(ctx)
	if w, ok := s.cfg.Store.(Watcher); ok {
		watching.Go(func() { s.watch(wctx, w) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("hub listener: %w", err)
	}
	stopWatching()
	watching.Wait()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	s.sessions.closeAll()
	_ = s.adminSrv.Shutdown(sctx)
	if e := s.publicSrv.Shutdown(sctx); e != nil {
		_ = s.publicSrv.Close()
	}
	s.sessions.wait()
	_ = os.Remove(filepath.Join(s.cfg.Data, StateFile))
	s.log.Info("hub stopped")
	return err
}

func (s *Server) closeListeners() {
	if s.publicLn != nil {
		s.publicLn.Close()
	}
	if s.adminLn != nil {
		s.adminLn.Close()
	}
}

// PrepareData creates the hub's state folder with mode 0700, or checks that
// an existing one is private.
func PrepareData(dir string) error { return privfile.PrepareDir(dir, "hub state folder") }
