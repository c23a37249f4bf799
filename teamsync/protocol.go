package teamsync

import (
	"encoding/json"
	"fmt"
	"time"

	"byokd.dev/byok"
)

// Protocol is the sync protocol version this package speaks. A hello with
// another version is refused with a close reason naming both.
const Protocol = 1

// Paths on the hub.
const (
	SyncPath   = "/v1/sync"   // GET, websocket upgrade, device credential
	JoinPath   = "/v1/join"   // POST JoinRequest, no credential
	UsagePath  = "/v1/usage"  // GET, device credential or admin session
	RelayPath  = "/relay/"    // + service + the path below the service prefix
	HealthPath = "/v1/health" // GET, no credential
)

// MaxFrame bounds one websocket message, on both sides. A usage batch of
// BatchSize events is a few hundred KiB.
const MaxFrame = 4 << 20

// BatchSize is how many usage events the client sends per batch, and
// MaxBatch the most the hub accepts in one.
const (
	BatchSize = 500
	MaxBatch  = 2000
)

// Message types.
const (
	TypeHello     = "hello"     // daemon → hub, first message
	TypeWelcome   = "welcome"   // hub → daemon, answer to hello
	TypeUsage     = "usage"     // daemon → hub
	TypeAck       = "ack"       // hub → daemon, after the batch is committed
	TypeInventory = "inventory" // daemon → hub
	TypePolicy    = "policy"    // hub → daemon, on every change
	TypePrices    = "prices"    // hub → daemon, on every change of the team's price table
	TypeError     = "error"     // hub → daemon, a message it could not use
)

// Message is every websocket message: a JSON object with a type and the
// one field that type carries.
type Message struct {
	Type      string       `json:"type"`
	Hello     *Hello       `json:"hello,omitempty"`
	Welcome   *Welcome     `json:"welcome,omitempty"`
	Usage     *UsageBatch  `json:"usage,omitempty"`
	Ack       *Ack         `json:"ack,omitempty"`
	Inventory *Inventory   `json:"inventory,omitempty"`
	Policy    *byok.Policy `json:"policy,omitempty"`
	Prices    *PriceTable  `json:"prices,omitempty"`
	Error     *Error       `json:"error,omitempty"`
}

// PriceTable is the team's prices as the admin keeps them on the hub: a
// price file (the form of the built-in prices.json) over the built-in
// prices, with a version that grows with every change. Daemons price by
// it, under their members' own prices.json.
type PriceTable struct {
	Version int64           `json:"version"`
	Table   json.RawMessage `json:"table"`
}

// Source names the table as a price's source, for `byokd prices`.
func (t PriceTable) Source() string { return fmt.Sprintf("team hub (version %d)", t.Version) }

// Hello opens a session.
type Hello struct {
	Protocol int    `json:"protocol"`
	Device   string `json:"device"` // the device's name, for the admin's lists
	// PolicyVersion is the newest policy version the daemon holds.
	PolicyVersion int64 `json:"policy_version"`
}

// Welcome accepts a session.
type Welcome struct {
	Protocol int         `json:"protocol"`
	Member   string      `json:"member"`           // the member's email
	DeviceID string      `json:"device_id"`        // this device on the hub
	Policy   byok.Policy `json:"policy"`           // the current team policy
	Prices   *PriceTable `json:"prices,omitempty"` // the team's price table, if the admin set one
}

// UsageBatch carries usage events in their public JSON form. The hub
// ignores any member field: rows belong to the credential's member.
type UsageBatch struct {
	BatchID string            `json:"batch_id"`
	Events  []byok.UsageEvent `json:"events"`
	// Unreadable are the events that decoded as no usage row (a field of
	// the wrong type, a credential of neither payer), by id where one could
	// be read: the hub rejects them, not the whole batch.
	Unreadable []Rejection `json:"-"`
}

// UnmarshalJSON reads each event on its own, so that one bad row costs
// only itself.
func (b *UsageBatch) UnmarshalJSON(data []byte) error {
	var raw struct {
		BatchID string            `json:"batch_id"`
		Events  []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*b = UsageBatch{BatchID: raw.BatchID, Events: make([]byok.UsageEvent, 0, len(raw.Events))}
	for _, r := range raw.Events {
		var e byok.UsageEvent
		if err := json.Unmarshal(r, &e); err != nil {
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(r, &id)
			b.Unreadable = append(b.Unreadable, Rejection{ID: id.ID, Reason: byok.CleanText("not a usage row: "+err.Error(), 300)})
			continue
		}
		b.Events = append(b.Events, e)
	}
	return nil
}

// Ack says the events with IDs are stored (or were already): the daemon
// may forget them. Rejected lists events the hub will never store, each
// with why: they leave the outbox too, so that they do not block it, and
// the daemon keeps them, marked, for the member to see.
type Ack struct {
	BatchID  string      `json:"batch_id"`
	IDs      []string    `json:"ids"`
	Rejected []Rejection `json:"rejected,omitempty"`
}

// Rejection is one event the hub refused to store.
type Rejection struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Inventory is the member's keys per service, without key material.
type Inventory struct {
	Services []ServiceKeys `json:"services"`
}

// ServiceKeys is one service's personal keys on a device.
type ServiceKeys struct {
	Service        byok.Service `json:"service"`
	HasPersonalKey bool         `json:"has_personal_key"`
	Keys           []KeySummary `json:"keys"`
	// Preference is the member's choice for the service; empty when they
	// have not chosen and the team's default applies.
	Preference byok.Preference `json:"preference,omitempty"`
}

// KeySummary describes a personal key by name only.
type KeySummary struct {
	Name    string      `json:"name"`
	Budget  byok.Micros `json:"budget_micros"` // monthly; 0 means none
	Primary bool        `json:"primary"`
}

// InventoryOf groups key metadata into an Inventory, listing every known
// service (with HasPersonalKey false where there is none).
func InventoryOf(keys []byok.KeyInfo) Inventory {
	var inv Inventory
	for _, svc := range byok.Services() {
		sk := ServiceKeys{Service: svc, Keys: []KeySummary{}}
		for _, k := range keys {
			if k.Service == svc {
				sk.Keys = append(sk.Keys, KeySummary{Name: k.Name, Budget: k.Budget, Primary: k.Primary})
			}
		}
		sk.HasPersonalKey = len(sk.Keys) > 0
		inv.Services = append(inv.Services, sk)
	}
	return inv
}

// Error reports a message the hub could not use.
type Error struct {
	Message string `json:"message"`
}

// JoinRequest is POST /v1/join's body.
type JoinRequest struct {
	Code       string `json:"code"`
	DeviceName string `json:"device_name"`
}

// JoinResponse is its answer: the one time the device credential is shown.
type JoinResponse struct {
	Member     string `json:"member"`
	DeviceID   string `json:"device_id"`
	Credential string `json:"credential"`
}

// ErrorBody is the JSON of every error the hub's API (not the relay)
// answers.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Close reasons are at most 123 bytes; these timeouts bound the handshake.
const (
	HelloTimeout = 10 * time.Second
	AckTimeout   = 60 * time.Second
)

// Close codes the hub uses, with a reason a person can act on.
const (
	CloseProtocol = 4001 // the hello's protocol version is not the hub's
	CloseRevoked  = 4003 // the device was revoked while connected
	CloseBadHello = 4000 // the first message was not a valid hello
)
