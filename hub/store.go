package hub

import (
	"context"
	"encoding/json"
	"time"

	"byokd.dev/byok"
	"byokd.dev/byok/teamsync"
)

// Store is everything the hub keeps, narrow enough for another database.
// Hashes are of secrets (invite codes, device credentials, login codes,
// session ids); a Store never sees a secret itself. Implementations map
// "no such row" to byok.ErrNotFound and duplicates to byok.ErrExists, and
// are safe for concurrent use.
type Store interface {
	// CreateInvite stores an unused invite.
	CreateInvite(ctx context.Context, inv Invite) error
	// Redeem marks the invite with codeHash used and creates dev for its
	// member, atomically. It fails with byok.ErrNotFound when the invite is
	// unknown, used or expired at now.
	Redeem(ctx context.Context, codeHash string, now time.Time, dev Device) (Device, error)

	// DeviceByCredential returns the device whose credential hashes to
	// hash, revoked or not.
	DeviceByCredential(ctx context.Context, hash string) (Device, error)
	Devices(ctx context.Context) ([]Device, error)
	// RevokeDevice marks a device revoked; byok.ErrNotFound if unknown.
	RevokeDevice(ctx context.Context, id string, at time.Time) error
	// SeenDevice notes a device's last contact.
	SeenDevice(ctx context.Context, id string, at time.Time) error

	AddAdmin(ctx context.Context, email string, at time.Time) error
	IsAdmin(ctx context.Context, email string) (bool, error)
	CreateLogin(ctx context.Context, l Login) error
	// RedeemLogin marks a login code used and returns its admin's email;
	// byok.ErrNotFound if unknown, used or expired at now.
	RedeemLogin(ctx context.Context, codeHash string, now time.Time) (string, error)
	CreateSession(ctx context.Context, s Session) error
	// Session returns an unexpired session; byok.ErrNotFound otherwise.
	Session(ctx context.Context, hash string, now time.Time) (Session, error)
	// DeleteSession ends a session (signing out); no error if unknown.
	DeleteSession(ctx context.Context, hash string) error

	// IngestUsage stores events a device synced, for member, keeping any
	// row already stored under the same (member, id). It returns after
	// commit.
	IngestUsage(ctx context.Context, member, deviceID string, evs []byok.UsageEvent) error
	// Writable reports whether a row could be committed now: the relay
	// asks before it sends a call on the team's key.
	Writable(ctx context.Context) error
	// RecordRelayed stores the hub's own row of a relayed call, replacing
	// a device's copy under the same (member, id); byok.ErrExists if the
	// hub already metered a call under that id.
	RecordRelayed(ctx context.Context, deviceID string, ev byok.UsageEvent) error
	// Usage returns rows in [f.From, f.To), oldest first.
	Usage(ctx context.Context, f UsageFilter) ([]byok.UsageEvent, error)
	// Aggregate sums the rows f selects, grouped by the dimensions in by
	// (none: one group, the total), largest cost first. It sums in the
	// database: a quarter of a large team is hundreds of thousands of rows.
	Aggregate(ctx context.Context, f UsageFilter, by ...Dim) ([]Group, error)
	// Audit returns up to limit rows f selects, newest first: the newest
	// for the zero Cursor, else those just older than the row at names,
	// or just newer if at.Newer. It seeks by cursor, never skips rows by
	// count.
	Audit(ctx context.Context, f UsageFilter, at Cursor, limit int) ([]byok.UsageEvent, error)
	// HubMetered reports which of ids the hub metered itself (relayed
	// calls) for member.
	HubMetered(ctx context.Context, member string, ids []string) (map[string]bool, error)
	// SharedSpend sums the hub-metered cost of member's relayed calls in
	// [from, to).
	SharedSpend(ctx context.Context, member string, from, to time.Time) (byok.Micros, error)
	// ReserveShared holds h.Amount of h.Member's allowance for call h.ID,
	// at most what is left, until RecordRelayed stores the call's row
	// (which releases it in the same transaction), ReleaseShared, or
	// h.Expires. It reports false, and the member's hub-metered spend in
	// [h.From, h.To) plus the holds of other calls in flight, when that
	// already reaches h.Cap. Each relayed call reserves before it is sent,
	// so neither concurrent calls nor hubs sharing a database can together
	// let the last of an allowance through.
	ReserveShared(ctx context.Context, h CapHold) (used byok.Micros, ok bool, err error)
	// ReleaseShared drops call id's hold, if any.
	ReleaseShared(ctx context.Context, member, id string) error

	SetInventory(ctx context.Context, deviceID string, inv teamsync.Inventory, at time.Time) error
	Inventories(ctx context.Context) ([]DeviceInventory, error)

	// Prices returns the team's price table (version 0, no table, if none
	// was set).
	Prices(ctx context.Context) (teamsync.PriceTable, error)
	// SetPrices stores table as the next version and returns it.
	SetPrices(ctx context.Context, table json.RawMessage) (teamsync.PriceTable, error)

	// Policy returns the current policy (the zero Policy, version 0, if
	// none was set).
	Policy(ctx context.Context) (byok.Policy, error)
	// SetPolicy stores p as the next version and returns it.
	SetPolicy(ctx context.Context, p byok.Policy) (byok.Policy, error)

	AddSharedKey(ctx context.Context, k SharedKey) error
	SharedKeys(ctx context.Context) ([]SharedKey, error)
	RemoveSharedKey(ctx context.Context, name string) (SharedKey, error)

	Close() error
}

// Invite is a one-time code for a member's device.
type Invite struct {
	CodeHash string
	Email    string
	Created  time.Time
	Expires  time.Time
}

// Device is a member's enrolled daemon.
type Device struct {
	ID       string     `json:"id"`
	Member   string     `json:"member"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastSeen time.Time  `json:"last_seen,omitzero"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	// CredHash is the credential's hash; never sent anywhere.
	CredHash string `json:"-"`
}

// Login is a one-time admin login code.
type Login struct {
	CodeHash string
	Email    string
	Expires  time.Time
}

// Session is an admin's browser session.
type Session struct {
	Hash    string
	Email   string
	Expires time.Time
}

// UsageFilter selects usage rows in [From, To) (a zero To: no end); each
// empty field matches every row, so an empty Member means everyone's.
type UsageFilter struct {
	Member   string
	From, To time.Time
	Service  byok.Service
	Payer    byok.Payer
	Project  string
	Model    string
	// Credential is the credential name rows carry, "team/team-openai".
	Credential string
	// Fallback selects only calls that left the preferred credential.
	Fallback bool
}

// Dim is a column usage can be grouped by.
type Dim string

// Dimensions of Aggregate. DimDay groups by UTC day, "2006-01-02".
const (
	DimMember     Dim = "member"
	DimService    Dim = "service"
	DimModel      Dim = "model"
	DimPayer      Dim = "payer"
	DimProject    Dim = "project"
	DimCredential Dim = "credential"
	DimFallback   Dim = "fallback_reason"
	DimDay        Dim = "day"
)

// Group is the sum of the usage rows that share Keys, one key per
// dimension asked for, in the order asked.
type Group struct {
	Keys  []string
	Calls int64
	// Cost sums the calls whose cost is known; UnknownCost counts the
	// others. Spend shows them together.
	Cost             byok.Micros
	UnknownCost      int64
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	Requests         int64
}

// Spend is the group's cost as shown: never $0.00 for an unknown cost.
func (g Group) Spend() byok.Spend { return byok.Spend{Known: g.Cost, Unknown: g.UnknownCost} }

// Tokens is every token the group's calls counted.
func (g Group) Tokens() int64 {
	return g.InputTokens + g.OutputTokens + g.CacheReadTokens + g.CacheWriteTokens
}

// Cursor is a position in the audit log, newest first: the last row a
// page showed. The zero Cursor is the start.
type Cursor struct {
	Time   time.Time
	Member string
	ID     string
	Newer  bool // the page is the rows newer than this one, not older
}

// DeviceInventory is a device's last reported key inventory.
type DeviceInventory struct {
	DeviceID  string             `json:"device_id"`
	Member    string             `json:"member"`
	Device    string             `json:"device"`
	Reported  time.Time          `json:"reported"`
	Inventory teamsync.Inventory `json:"inventory"`
}

// SharedKey is a shared key's metadata; the secret is in the keystore
// under secretRef.
type SharedKey struct {
	Service     byok.Service `json:"service"`
	Name        string       `json:"name"`
	Fingerprint string       `json:"fingerprint"`
	Created     time.Time    `json:"created"`
}

// Ref is the key's credential name in usage rows.
func (k SharedKey) Ref() byok.CredentialRef { return byok.TeamKey(k.Name) }

// secretRef is where the keystore holds the key: its credential name.
func (k SharedKey) secretRef() string { return k.Ref().String() }

// Watcher is implemented by a Store that several hubs share (pgstore):
// Watch reports every committed change of the policy or the price table
// and every revoked device, by any hub (this one too), as it happens, so
// that each hub pushes it to the daemons connected to it. It calls
// changed with ChangeResync once it is listening, since changes made
// before may have been missed, and returns when ctx ends (nil) or the
// feed breaks (the error); the hub then calls it again. changed is called
// from one goroutine at a time.
type Watcher interface {
	Watch(ctx context.Context, changed func(Change)) error
}

// Change is one change a Watcher reports.
type Change struct {
	Kind   ChangeKind
	Device string // the revoked device, for ChangeRevoked
}

// ChangeKind is what changed.
type ChangeKind string

// Kinds of Change.
const (
	ChangePolicy  ChangeKind = "policy"
	ChangePrices  ChangeKind = "prices"
	ChangeRevoked ChangeKind = "revoked"
	// ChangeResync: anything may have changed (the feed was down).
	ChangeResync ChangeKind = "resync"
)

// CapHold is a relayed call's reservation of its member's allowance.
type CapHold struct {
	Member, ID string
	From, To   time.Time // the cap's month
	Cap        byok.Micros
	Amount     byok.Micros
	Now        time.Time // holds that expired by now count no more
	Expires    time.Time
}
