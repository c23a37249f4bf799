package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"byokd.dev/byok"
	"byokd.dev/byok/control"
	"byokd.dev/byok/internal/peercred"
	"byokd.dev/byok/internal/privfile"
	"byokd.dev/byok/internal/statelock"
	"byokd.dev/byok/keystore"
	"byokd.dev/byok/ledger"
	"byokd.dev/byok/localproxy"
	"byokd.dev/byok/metering"
)

// DefaultListen is the proxy's address.
const DefaultListen = "127.0.0.1:8787"

// Files in the state folder.
const (
	LedgerFile = "ledger.db"
	KeysFile   = "keys.enc"    // the encrypted-file secret store, when used
	PricesFile = "prices.json" // optional price overrides
)

// Config is everything the daemon needs; cmd/byokd fills it from flags,
// the environment and the config file.
type Config struct {
	Home      string // the state folder, required
	Listen    string // proxy address; default DefaultListen; must be loopback
	Upstreams map[byok.Service]*url.URL
	MaxBody   int64
	// Keystore chooses and unlocks the secret store; Namespace and
	// FilePath are filled in here.
	Keystore keystore.Config
	Logger   *slog.Logger
	Version  string
	// ShutdownGrace bounds how long in-flight calls may take to finish on
	// stop; default 30s.
	ShutdownGrace time.Duration
	// ApprovalTimeout is how long a call waits for the member's answer
	// before it is denied; default DefaultApprovalTimeout.
	ApprovalTimeout time.Duration
	Now             func() time.Time
	// Notifier, if set, runs beside the daemon on its event stream:
	// notifications and approval popups (see package notify).
	Notifier Front
	// Page, if set, builds the Credential Manager page served under /ui/
	// on the control listener (see package webui).
	Page NewPage
	// Busy, if set, is called as each request arrives on the proxy and on
	// the control listener: byokd run stops garbage collection while none
	// comes (package idlegc).
	Busy func()
}

// Daemon is a running byokd. Create it with Start.
type Daemon struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	db        *ledger.DB
	store     keystore.Store
	storeKind string
	keys      *keyring
	tokens    *tokens
	proxy     *localproxy.Proxy
	prices    *metering.Book
	unlock    func() // gives up the state folder (statelock)
	// pricesVersion is the team price table's version in force.
	pricesVersion int64
	proxyAddr     string
	router        *router
	events        *events
	hubNotices    *hubNotices
	approvals     *approvals

	hubMu  sync.RWMutex
	link   *hubLink
	policy byok.Policy
	// The hub sync client runs under syncCtx; wake and inventoryChanged
	// tell it of new rows and changed keys.
	syncCtx          context.Context
	syncWG           sync.WaitGroup
	wake             chan struct{}
	inventoryChanged chan struct{}

	paused   atomic.Bool // the member paused the proxy: calls get a 503
	page     Page
	frontSub <-chan control.Event // the notifier's first subscription

	proxyLn, controlLn *peercred.Listener
	proxySrv, ctrlSrv  *http.Server
	control            *control.Handler
}

// Start opens the state folder, the ledger and the secret store, and
// starts listening. Serve with Run.
func Start(ctx context.Context, cfg Config) (_ *Daemon, err error) {
	if cfg.Home == "" {
		return nil, errors.New("no state folder: set BYOKD_HOME")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 30 * time.Second
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger.With("component", "daemon"), now: cfg.Now}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if err := privfile.PrepareDir(cfg.Home, "state folder"); err != nil {
		return nil, err
	}
	// Before anything in the folder is opened: a second daemon must not
	// replay the first one's journal or overwrite its state file.
	if d.unlock, err = statelock.Acquire(cfg.Home, "byokd"); err != nil {
		return nil, err
	}
	for _, f := range []string{control.TokenFile, control.ReadTokenFile, LedgerFile, KeysFile} {
		if err := privfile.Check(filepath.Join(cfg.Home, f)); err != nil {
			return nil, err
		}
	}
	if d.db, err = ledger.Open(ctx, filepath.Join(cfg.Home, LedgerFile), ledger.Options{Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	id, err := d.installID(ctx)
	if err != nil {
		return nil, err
	}
	if v, err := d.db.Meta(ctx, keepWorkingMeta); err == nil {
		d.db.SetKeepWorking(v == "true")
	}
	ks := cfg.Keystore
	ks.Namespace = "byokd-" + id
	ks.FilePath = filepath.Join(cfg.Home, KeysFile)
	if d.store, err = keystore.Open(ks); err != nil {
		return nil, err
	}
	// Unlocking a key file takes Argon2id's 64 MiB; give it back to the
	// OS rather than keep it resident for the daemon's whole life.
	debug.FreeOSMemory()
	d.storeKind = "keychain"
	if _, ok := d.store.(*keystore.File); ok {
		d.storeKind = "encrypted file"
	}
	d.keys = &keyring{db: d.db, store: d.store, log: d.log}
	if err := d.keys.load(ctx); err != nil {
		return nil, err
	}
	d.tokens = newTokens(d.db)
	prices, version, err := d.loadPrices(ctx)
	if err != nil {
		return nil, err
	}
	d.prices, d.pricesVersion = metering.NewBook(prices), version
	if err := d.loadHubLink(ctx); err != nil {
		return nil, err
	}
	d.wake, d.inventoryChanged = make(chan struct{}, 1), make(chan struct{}, 1)
	d.events = newEvents(cfg.Now)
	d.hubNotices = &hubNotices{publish: d.events.publish, now: cfg.Now, after: time.AfterFunc}
	d.approvals = newApprovals(cfg.Now, cfg.ApprovalTimeout, d.events)
	if cfg.Notifier != nil {
		// Subscribed here, so that the notifier hears every event from
		// the moment Start returns.
		d.frontSub = d.events.subscribe(ctx)
	}
	d.router = newRouter(routerDeps{
		ledger: d.db, keys: d.keys, approvals: d.approvals, events: d.events,
		hub: d.hubLink, paused: d.paused.Load, wake: func() { nudge(d.wake) },
		prices: d.prices, now: cfg.Now, log: d.log,
	})
	if err := d.router.loadPrefs(ctx); err != nil {
		return nil, err
	}

	if d.proxyLn, err = listenLoopback(cfg.Listen, "the proxy", d.log); err != nil {
		return nil, err
	}
	d.proxyAddr = d.proxyLn.Addr().String()
	_, port, _ := net.SplitHostPort(d.proxyAddr)
	d.proxy, err = localproxy.New(localproxy.Config{
		Upstreams:  cfg.Upstreams,
		Port:       port,
		Tokens:     d.tokens,
		Identify:   identifyCaller,
		Planner:    d.router,
		Recorder:   d.router,
		CountBatch: d.db.CountBatch,
		Fallback:   d.router.Fallback,
		Prices:     d.prices,
		MaxBody:    cfg.MaxBody,
		Logger:     cfg.Logger,
		Now:        cfg.Now,
		NewID:      func() string { return uuid.Must(uuid.NewV7()).String() },
	})
	if err != nil {
		return nil, err
	}
	if d.controlLn, err = d.listenControl(ctx); err != nil {
		return nil, err
	}
	token, readToken := randomToken("byokc_"), randomToken("byokr_")
	if err := privfile.Write(filepath.Join(cfg.Home, control.TokenFile), []byte(token+"\n")); err != nil {
		return nil, fmt.Errorf("write control token: %w", err)
	}
	if err := privfile.Write(filepath.Join(cfg.Home, control.ReadTokenFile), []byte(readToken+"\n")); err != nil {
		return nil, fmt.Errorf("write control token: %w", err)
	}
	_, cport, _ := net.SplitHostPort(d.controlLn.Addr().String())
	d.proxySrv = newServer(d.told(d.proxy))
	if cfg.Page != nil {
		d.page = cfg.Page(backend{d}, cport)
	}
	d.control = control.NewHandler(backend{d}, byok.NewSecret(token), byok.NewSecret(readToken), cport, cfg.Logger)
	d.ctrlSrv = newServer(d.told(controlMux(d.control, d.page)))
	st, _ := json.Marshal(control.State{PID: os.Getpid(), Proxy: d.proxyAddr, Control: d.controlLn.Addr().String()})
	if err := privfile.Write(filepath.Join(cfg.Home, control.StateFile), st); err != nil {
		return nil, fmt.Errorf("write daemon state: %w", err)
	}
	return d, nil
}

// ProxyAddr is where the proxy listens.
func (d *Daemon) ProxyAddr() string { return d.proxyAddr }

// Run serves until ctx ends, then stops gracefully: no new calls, in-flight
// calls get ShutdownGrace to finish, every row is flushed to the ledger.
func (d *Daemon) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- serve(d.proxySrv, d.proxyLn) }()
	go func() { errc <- serve(d.ctrlSrv, d.controlLn) }()
	fctx, stopFronts := context.WithCancel(ctx)
	defer stopFronts()
	if d.cfg.Notifier != nil {
		go d.runFront(fctx, d.cfg.Notifier)
	}
	syncCtx, stopSync := context.WithCancel(ctx)
	d.hubMu.Lock()
	d.syncCtx = syncCtx
	d.hubMu.Unlock()
	d.startSync()
	d.log.Info("byokd running", "proxy", d.proxyAddr, "keystore", d.storeKind, "version", d.cfg.Version)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	d.log.Info("byokd stopping")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ShutdownGrace)
	defer cancel()
	_ = os.Remove(filepath.Join(d.cfg.Home, control.StateFile))
	if serr := errors.Join(d.proxySrv.Shutdown(sctx), d.ctrlSrv.Shutdown(sctx)); serr != nil {
		d.log.Warn("calls still running at the end of the grace period were cut", "err", serr)
		_ = d.proxySrv.Close()
		_ = d.ctrlSrv.Close()
	}
	// The last rows are in the ledger; the hub gets them next time.
	stopSync()
	d.syncWG.Wait()
	return errors.Join(err, d.close())
}

func (d *Daemon) close() error {
	var errs []error
	for _, ln := range []*peercred.Listener{d.proxyLn, d.controlLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if d.db != nil {
		errs = append(errs, d.db.Close())
	}
	if d.unlock != nil {
		d.unlock()
	}
	return errors.Join(errs...)
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// told tells Config.Busy of each request h is given.
func (d *Daemon) told(h http.Handler) http.Handler {
	busy := d.cfg.Busy
	if busy == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busy()
		h.ServeHTTP(w, r)
	})
}

// newServer bounds what a slow or hostile client can hold: headers must
// arrive within 10 s; bodies and responses are unbounded in time because
// streams run for minutes.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          nil,
		ConnContext:       peercred.ConnContext,
	}
}

// identifyCaller names the app of a call without an app token: the local
// process on the other end of the connection, which peercred has told is
// this user's, and the git repository it works in. Where the connection's
// owner is not told (macOS) or its process is not named (Windows), there
// is no caller to name and the call needs a token.
func identifyCaller(r *http.Request) (byok.AppToken, bool) {
	c, ok := peercred.FromContext(r.Context())
	if !ok {
		return byok.AppToken{}, false
	}
	p, err := c.Process()
	if errors.Is(err, errors.ErrUnsupported) {
		return byok.AppToken{}, false // processes are not named here (Windows): a token says who calls
	}
	if err != nil || p.Name == "" {
		return byok.AppToken{Name: "unknown app"}, true
	}
	return byok.AppToken{Name: byok.CleanText(p.Name, 64), Project: byok.CleanText(peercred.Project(p.Dir), 64)}, true
}

// controlAddrMeta keeps the control listener's address between runs, so
// that the Credential Manager keeps its address (a bookmark, an open tab)
// across restarts.
const controlAddrMeta = "control_addr"

// listenControl listens for the control API and the page where the last
// run did, or on a new port if that one is taken.
func (d *Daemon) listenControl(ctx context.Context) (*peercred.Listener, error) {
	const surface = "the control API and the Credential Manager"
	last, _ := d.db.Meta(ctx, controlAddrMeta)
	if last != "" {
		if ln, err := listenLoopback(last, surface, d.log); err == nil {
			return ln, nil
		}
		d.log.Info("the Credential Manager's last address is taken; it moves", "last", last)
	}
	ln, err := listenLoopback("127.0.0.1:0", surface, d.log)
	if err != nil {
		return nil, err
	}
	if err := d.db.SetMeta(ctx, controlAddrMeta, ln.Addr().String()); err != nil {
		d.log.Warn("keep the Credential Manager's address", "err", err)
	}
	return ln, nil
}

// listenLoopback listens on a loopback addr, and refuses any other: the
// proxy signs requests with the member's keys for whoever reaches it. It
// serves this user's processes only (peercred): another local user's
// connection gets a 403 before any handler sees its request.
func listenLoopback(addr, surface string, log *slog.Logger) (*peercred.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("refusing to listen on %s: byokd serves only loopback (127.0.0.1 or ::1), since it signs requests with your keys", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another byokd running? see `byokd status`)", addr, err)
	}
	return peercred.Only(ln, surface, log), nil
}

func (d *Daemon) installID(ctx context.Context) (string, error) {
	id, err := d.db.Meta(ctx, "install_id")
	if err == nil && id != "" {
		return id, nil
	}
	if err != nil && !errors.Is(err, byok.ErrNotFound) {
		return "", err
	}
	id = uuid.NewString()[:8]
	return id, d.db.SetMeta(ctx, "install_id", id)
}
