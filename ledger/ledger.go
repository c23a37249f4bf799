package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"byokd.dev/byok"
)

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Logger receives the writer's errors. Default: discard.
	Logger *slog.Logger
	// Now is the ledger's clock: the Created times AddKey and CreateToken
	// fill in when the caller leaves them zero, and when it last logged
	// rows kept only in memory. Default: time.Now.
	Now func() time.Time
	// BusyTimeout is how long a statement waits for another program's lock
	// before failing with ErrUnavailable. Default: 5s.
	BusyTimeout time.Duration
	// MaxBatch caps how many queued writes share one transaction. Default: 256.
	MaxBatch int
	// MaxWaiting bounds the rows kept in memory while SQLite refuses them
	// (the proxy refuses calls long before, once Health reports it, unless
	// the member keeps working without records). Default: 100,000.
	MaxWaiting int
	// Readers caps the read-only connection pool. Default: 4.
	Readers int
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.MaxWaiting <= 0 {
		o.MaxWaiting = 100_000
	}
	if o.Readers <= 0 {
		o.Readers = 4
	}
}

// DB is an open ledger. Its methods are safe for concurrent use. Usage rows
// are journaled by their callers (journaler.go), SQLite is written by a
// single writer goroutine (writer.go), budgets are counted in memory as
// rows are journaled (budget.go), and reads use a read-only pool.
//
// Lock order: mu (read) → rowsMu; mu (read) → appendMu → budgets.mu,
// healthMu. rowsMu and appendMu are never held together; budgets.mu and
// healthMu are leaves, and nothing blocks on a channel holding them.
type DB struct {
	path string
	opts Options
	log  *slog.Logger

	wdb *sql.DB // the writer's connection; only the writer goroutine uses it after Open
	rdb *sql.DB // read-only pool

	// Record's rows: a caller queues its row in rowQueue; the caller that
	// finds no leader becomes it, journals what is queued with one write
	// and, if more rows queued meanwhile, hands the lead to the journaler
	// goroutine (lead), which journals until the queue is empty. A call
	// alone is thus journaled on its own goroutine, with no hand-off.
	rowsMu     sync.Mutex
	rowQueue   []*request
	spareQueue []*request // the last batch's slice, for the next
	leading    bool       // a leader is journaling or has been handed the lead
	// The leader's scratch slices, reused from batch to batch: only the
	// one leader touches them.
	leaderClaimed []*request
	leaderEvs     []*byok.UsageEvent
	lead          chan struct{}
	journalerDone chan struct{}

	// appendMu guards the journal's active file and the rows waiting for
	// SQLite: a leader holds it to append and add its rows, the writer to
	// take the rows it applies and switch the journal's file.
	appendMu    sync.Mutex
	journal     *journal
	unapplied   []*byok.UsageEvent // journaled rows not yet in SQLite
	spareRows   []*byok.UsageEvent // the last applied rows' slice, for the next
	volatile    int                // of unapplied, rows only in memory (keep working)
	lastDropLog time.Time          // the last log line about dropped rows
	rowsIn      chan struct{}      // cap 1: tells the writer that rows wait

	// applyFailed: the writer's last transaction with rows failed. The
	// writer sets it holding appendMu; others read it holding appendMu.
	applyFailed bool
	// caughtUp is signalled (with appendMu) after each transaction with
	// rows, for leaders waiting for SQLite to take some (maxUnapplied).
	caughtUp *sync.Cond
	// keepWorking: the member chose to keep working without records when
	// the ledger cannot be written (SetKeepWorking).
	keepWorking atomic.Bool
	// journaled and applied count rows since Open: written to the
	// journal (or kept in memory), and (of those) in SQLite.
	journaled, applied atomic.Int64

	// mu guards closed and sends on reqs and lead: senders hold it for
	// reading, Close takes it for writing before closing them.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request // other writes, for the writer goroutine
	done   chan struct{} // closed when the writer goroutine has returned

	budgets budgets

	healthMu sync.RWMutex
	health   health

	stats struct {
		commits, rows, failed atomic.Int64
		dropped, volatile     atomic.Int64
		pending, writing      atomic.Int64
	}
}

// Stats are counters of the writer since Open (schema migrations at Open
// are not counted).
type Stats struct {
	Commits int64 // write transactions committed
	Rows    int64 // usage rows inserted (duplicates by ID not counted)
	Failed  int64 // write transactions that failed and rolled back
	Pending int64 // writes and rows not yet answered: queued, being journaled, or in the open transaction
	Writing int64 // of Pending, the writes (not rows) in the transaction being written now
	Waiting int64 // rows recorded and not yet in SQLite
	// Volatile of Waiting are only in memory: the journal could not be
	// written and the member keeps working without records.
	Volatile int64
	// Dropped rows were lost keeping working without records: more than
	// memory holds waited for a ledger that could not be written.
	Dropped int64
}

// Stats returns the writer's counters.
func (d *DB) Stats() Stats {
	return Stats{
		Commits:  d.stats.commits.Load(),
		Rows:     d.stats.rows.Load(),
		Failed:   d.stats.failed.Load(),
		Pending:  d.stats.pending.Load(),
		Writing:  d.stats.writing.Load(),
		Waiting:  d.journaled.Load() - d.applied.Load(),
		Volatile: d.stats.volatile.Load(),
		Dropped:  d.stats.dropped.Load(),
	}
}

// SetKeepWorking chooses what Record does when the ledger cannot be
// written. Off (the default), it fails, so that no call goes out without
// its record. On, the member keeps working without records: a row that
// cannot be journaled waits in memory (Stats.Volatile) for the ledger to
// work again, and beyond what memory holds is dropped and counted
// (Stats.Dropped, and the log), never silently.
func (d *DB) SetKeepWorking(on bool) { d.keepWorking.Store(on) }

// KeepWorking reports the choice SetKeepWorking made.
func (d *DB) KeepWorking() bool { return d.keepWorking.Load() }

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// Open opens the ledger at path, creating the file (mode 0600) if it does
// not exist, and migrates it to the newest schema. Its folder must exist.
//
// It fails with ErrTooNew for a database written by a newer byokd, with
// ErrDamaged for a file that is not a SQLite database or fails PRAGMA
// quick_check, and with ErrUnavailable when the file or folder cannot be
// written. Call Close when done.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	opts.fill()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("open ledger: %w", classify(abs, err))
	}
	d := &DB{
		path:          abs,
		opts:          opts,
		log:           opts.Logger.With("component", "ledger"),
		reqs:          make(chan *request, 4*opts.MaxBatch),
		done:          make(chan struct{}),
		lead:          make(chan struct{}, 1),
		journalerDone: make(chan struct{}),
		rowsIn:        make(chan struct{}, 1),
	}
	d.caughtUp = sync.NewCond(&d.appendMu)
	d.budgets = budgets{months: map[monthKey]*monthEntry{}, holds: map[string]hold{}}
	if err := d.openWriter(ctx); err != nil {
		return nil, err
	}
	if err := d.openReaders(ctx); err != nil {
		d.wdb.Close()
		return nil, err
	}
	stmts, err := prepareWriter(ctx, d.wdb)
	if err == nil {
		err = d.openJournal(stmts)
	}
	if err == nil {
		var newest sql.NullInt64
		if err = d.wdb.QueryRowContext(ctx, `SELECT max(time_us) FROM usage`).Scan(&newest); err == nil {
			d.budgets.newest = newest.Int64
		}
	}
	if err != nil {
		if stmts != nil {
			stmts.close()
		}
		d.rdb.Close()
		d.wdb.Close()
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	go d.writer(stmts)
	go d.journaler()
	return d, nil
}

// openJournal opens the journal and puts into SQLite the rows a process
// that stopped before it could left there.
func (d *DB) openJournal(st *writerStmts) error {
	j, evs, err := openJournal(d.path)
	var bad *badLineError
	if errors.As(err, &bad) {
		return &stateError{sentinel: ErrDamaged, cause: err, advice: fmt.Sprintf(
			"ledger journal %s is damaged: byokd writes whole lines, so another program changed it; "+
				"run `byokd doctor`, which removes the damaged lines and keeps every row", bad.file)}
	}
	if err != nil {
		return classify(d.path, err)
	}
	d.journal = j
	if len(evs) == 0 {
		return nil
	}
	reqs := make([]*request, len(evs))
	for i := range evs {
		reqs[i] = &request{ev: &evs[i]}
	}
	_, rows, err := d.writeBatch(st, reqs)
	if err != nil {
		j.close(false)
		return err
	}
	d.log.Info("ledger: rows recovered from the journal", "rows", len(evs), "new", rows)
	for i := range j.files {
		if err := j.empty(i); err != nil {
			j.close(false)
			return classify(d.path, err)
		}
	}
	return nil
}

// createFile creates path with mode 0600 unless it exists, so that SQLite
// (which copies the database's mode to its -wal and -shm files) never makes
// a world-readable ledger.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn builds a file: URI for path. The path is escaped, so names with ? or
// # work. The _pragma values run on every new connection; busy_timeout runs
// first (the driver sorts it first), the others in name order.
func dsn(path string, readOnly bool, busy time.Duration) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	if len(u.Path) > 0 && u.Path[0] != '/' {
		u.Path = "/" + u.Path // Windows: file:///C:/…
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		// SQLite's own URI parameter: the connection cannot write, and a
		// missing file is an error instead of being created.
		q.Set("mode", "ro")
	} else {
		q.Set("mode", "rwc")
		// WAL: readers never block the writer nor the writer readers.
		q.Add("_pragma", "journal_mode(WAL)")
		// synchronous=NORMAL in WAL mode: a commit is durable against a
		// crash of this process (the WAL is written before COMMIT returns);
		// only a power loss or OS crash can roll back the last commits,
		// never corrupt the file. It saves an fsync per commit.
		q.Add("_pragma", "synchronous(NORMAL)")
		// Write transactions take the write lock at BEGIN, so they wait
		// for another process's lock under busy_timeout instead of failing
		// with SQLITE_BUSY halfway through.
		q.Set("_txlock", "immediate")
		// No checkpoint inside a commit, where every caller of the batch
		// would wait for it: the writer runs them once the callers have
		// their answers (writer.go).
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	return u.String() + "?" + q.Encode()
}

func (d *DB) openWriter(ctx context.Context) error {
	w, err := sql.Open("sqlite", dsn(d.path, false, d.opts.BusyTimeout))
	if err != nil {
		return fmt.Errorf("open ledger %s: %w", d.path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return fmt.Errorf("open ledger: %w", classify(d.path, err))
	}
	if err := quickCheck(ctx, w, d.path); err != nil {
		w.Close()
		return fmt.Errorf("open ledger: %w", err)
	}
	if err := migrate(ctx, w, d.path); err != nil {
		w.Close()
		return err
	}
	if err := checkSchema(ctx, w, d.path); err != nil {
		w.Close()
		return fmt.Errorf("open ledger: %w", err)
	}
	d.wdb = w
	return nil
}

func (d *DB) openReaders(ctx context.Context) error {
	r, err := sql.Open("sqlite", dsn(d.path, true, d.opts.BusyTimeout))
	if err != nil {
		return fmt.Errorf("open ledger %s for reading: %w", d.path, err)
	}
	r.SetMaxOpenConns(d.opts.Readers)
	r.SetMaxIdleConns(d.opts.Readers)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		return fmt.Errorf("open ledger for reading: %w", classify(d.path, err))
	}
	d.rdb = r
	return nil
}

// quickCheck runs PRAGMA quick_check, which reads every page (O(N), without
// the index cross-checks of integrity_check), and fails with ErrDamaged
// unless SQLite answers "ok".
func quickCheck(ctx context.Context, db *sql.DB, path string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return classify(path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return classify(path, err)
		}
		s = strings.TrimSpace(strings.TrimPrefix(s, "*** in database main ***"))
		if s != "ok" {
			problems = append(problems, strings.ReplaceAll(s, "\n", "; "))
		}
	}
	if err := rows.Err(); err != nil {
		return classify(path, err)
	}
	if len(problems) > 0 {
		detail := problems[0]
		if len(problems) > 1 {
			detail += fmt.Sprintf(" and %d more problems", len(problems)-1)
		}
		return damaged(path, "quick_check: "+detail, nil)
	}
	return nil
}

// Close stops accepting writes, commits everything already queued, waits
// for the writer to finish and closes the database. Calls made after Close
// fail with ErrUnavailable and ErrClosed. Close is idempotent.
func (d *DB) Close() error {
	d.mu.Lock()
	already := d.closed
	if !already {
		d.closed = true
		close(d.lead)
	}
	d.mu.Unlock()
	if already {
		<-d.done
		return nil
	}
	// Rows queued before Close are journaled, then the writer puts them
	// into SQLite. No sender holds mu any more, and none will send.
	<-d.journalerDone
	close(d.reqs)
	<-d.done
	// The writer has stopped: rows still unapplied keep their journal.
	// The writer's connection closes last: as the last connection it
	// checkpoints what is left and removes the log.
	return errors.Join(d.journal.close(len(d.unapplied) == 0), d.rdb.Close(), d.wdb.Close())
}
