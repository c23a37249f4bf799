package control

import (
	"fmt"
	"time"

	"byokd.dev/byok"
)

// Files the daemon writes in $BYOKD_HOME for its clients.
const (
	StateFile = "daemon.json"   // State, written once the listeners are up
	TokenFile = "control.token" // the bearer token, mode 0600
	// ReadTokenFile holds a token that reads the API and changes nothing
	// (status widgets, shell prompts), mode 0600.
	ReadTokenFile = "control.read.token"
)

// State is what StateFile holds: where the running daemon listens.
type State struct {
	PID     int    `json:"pid"`
	Proxy   string `json:"proxy"`   // host:port of the local proxy
	Control string `json:"control"` // host:port of the control API
}

// Status is the daemon's state at a glance.
type Status struct {
	Version  string `json:"version"`
	Proxy    string `json:"proxy"`
	Keystore string `json:"keystore"` // "keychain" or "file"
	Keys     int    `json:"keys"`
	Tokens   int    `json:"tokens"`
	Unsynced int    `json:"unsynced"`
	// Spend this calendar month, by payer.
	PersonalSpend byok.Spend `json:"personal_spend"`
	TeamSpend     byok.Spend `json:"team_spend"`
	// Paused: the proxy refuses calls (503) until resumed.
	Paused bool `json:"paused"`
	// Hub is the team hub link; empty URL when no hub was joined.
	Hub HubStatus `json:"hub"`
	// Ledger is whether usage rows can be written.
	Ledger LedgerStatus `json:"ledger"`
	// Rejected are usage rows the team hub refused to store; they stay in
	// the member's ledger.
	Rejected RejectedStatus `json:"rejected"`
	// Refused counts requests the local surfaces turned away since start:
	// a climbing count is a web page or another program probing.
	Refused Refused `json:"refused"`
	// TeamPaying are the services whose calls the team's shared key pays
	// now because the member's own key is skipped.
	TeamPaying []TeamPaying `json:"team_paying"`
}

// TeamPaying is a spell in which the team's shared key pays for a
// service's calls because the member's own key is skipped (over quota,
// invalid, over budget, none added). It ends when a personal key pays.
type TeamPaying struct {
	Service byok.Service `json:"service"`
	Since   time.Time    `json:"since"`
	// Until is when byokd tries the member's key again; zero when it
	// will not by itself (no key, budget used).
	Until  time.Time  `json:"until,omitzero"`
	Reason string     `json:"reason"`
	Calls  int        `json:"calls"`
	Cost   byok.Spend `json:"cost"`
}

// RejectedStatus counts the rows the hub refused and says why the newest was.
type RejectedStatus struct {
	Count  int    `json:"count"`
	LastID string `json:"last_id,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Refused counts refused requests by surface.
type Refused struct {
	Proxy   int64 `json:"proxy"`   // Host, browser, app token
	Control int64 `json:"control"` // Host, browser, control token, read-only token
	Page    int64 `json:"page"`    // Host, cross-origin, stale sign-in or form token
	// OtherUsers counts connections from other local users' processes,
	// refused before any handler saw them (Linux).
	OtherUsers int64 `json:"other_users"`
}

// LedgerStatus is the state of the member's usage ledger.
type LedgerStatus struct {
	// Error says why the ledger cannot be written; empty when it can.
	Error string `json:"error,omitempty"`
	// KeepWorking: the member keeps working without records when the
	// ledger cannot be written, instead of calls being refused.
	KeepWorking bool `json:"keep_working"`
	// Waiting rows are recorded and not yet in the ledger's database;
	// Volatile of them only in memory; Dropped were lost keeping working
	// without records since the daemon started.
	Waiting  int64 `json:"waiting"`
	Volatile int64 `json:"volatile"`
	Dropped  int64 `json:"dropped"`
}

// LedgerMode chooses what happens when the ledger cannot be written.
type LedgerMode struct {
	KeepWorking bool `json:"keep_working"`
}

// HubStatus is the link to the team hub.
type HubStatus struct {
	URL       string    `json:"url,omitempty"`
	Member    string    `json:"member,omitempty"`
	Connected bool      `json:"connected"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Policy is the team policy in force.
	Policy byok.Policy `json:"policy"`
}

// TeamKey reports whether the team's shared key can pay for svc's calls
// on this machine, and if not, why, for people: the fronts offer the
// choices that can work and say why the others cannot.
func (st Status) TeamKey(svc byok.Service) (ok bool, why string) {
	switch {
	case st.Hub.URL == "":
		return false, "this computer has not joined a team hub"
	case !st.Hub.Policy.SharedAllowed(svc):
		return false, "your team shares no " + svc.Title() + " key"
	}
	return true, ""
}

// Join asks the daemon to join a team hub with an invite code.
type Join struct {
	HubURL     string `json:"hub_url"`
	Code       string `json:"code"`
	DeviceName string `json:"device_name"`
	Insecure   bool   `json:"insecure"`
}

// KeyTest is the outcome of a cheap authenticated call to the provider
// with one personal key (listing models, or ClickUp's teams).
type KeyTest struct {
	OK      bool   `json:"ok"`
	Status  int    `json:"status"`  // the provider's HTTP status; 0 if unreachable
	Message string `json:"message"` // what happened, for people
}

// Login is a one-time link that opens the Credential Manager page.
type Login struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// Pause pauses or resumes the proxy.
type Pause struct {
	Paused bool `json:"paused"`
}

// Key is a personal key's metadata. It has no field for the secret.
type Key struct {
	Service     byok.Service `json:"service"`
	Name        string       `json:"name"`
	Fingerprint string       `json:"fingerprint"`
	Budget      byok.Micros  `json:"budget_micros"`
	Primary     bool         `json:"primary"`
	Created     time.Time    `json:"created"`
	// Spent is this month's spend on the key.
	Spent byok.Micros `json:"spent_micros"`
	// SkippedUntil is when byokd tries the key again after it could not
	// pay (SkippedFor says why); zero while it works.
	SkippedUntil time.Time `json:"skipped_until,omitzero"`
	SkippedFor   string    `json:"skipped_for,omitempty"`
}

// State says how the key stands, for people: "working", "skipped until
// 14:35 (over quota)", "over its budget".
func (k Key) State() string {
	switch {
	case !k.SkippedUntil.IsZero():
		return fmt.Sprintf("skipped until %s (%s)", k.SkippedUntil.Local().Format("15:04"), k.SkippedFor)
	case k.Budget > 0 && k.Spent >= k.Budget:
		return "over its budget"
	}
	return "working"
}

// AddKey is the request that stores a new personal key. Secret is the only
// field anywhere in this API that carries key material, and only inward.
type AddKey struct {
	Service byok.Service `json:"service"`
	Name    string       `json:"name"`
	Secret  string       `json:"secret"`
	Budget  byok.Micros  `json:"budget_micros"`
	Primary bool         `json:"primary"`
}

// Token is an app token's metadata.
type Token struct {
	Name    string    `json:"name"`
	Project string    `json:"project"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked"`
}

// NewToken asks for a token.
type NewToken struct {
	Name    string `json:"name"`
	Project string `json:"project"`
}

// CreatedToken is the one answer that carries a new app token's value.
type CreatedToken struct {
	Token
	Value string `json:"value"`
}

// Pref is a service's routing preference.
type Pref struct {
	Service    byok.Service    `json:"service"`
	Preference byok.Preference `json:"preference"`
	Fallback   bool            `json:"fallback"`
	// RateLimitFallback falls back also when the personal key is only
	// rate-limited or the provider overloaded.
	RateLimitFallback bool `json:"rate_limit_fallback"`
	// OverBudget: "warn", "block" or "shared" once a key's budget is used.
	OverBudget string `json:"over_budget"`
}

// Event kinds.
const (
	EventFallback = "fallback" // a call left the member's key for the team's
	EventBudget   = "budget"   // a personal key passed 50, 80 or 100% of its budget
	EventKey      = "key"      // a personal key stopped working
	EventApproval = "approval" // a call waits for the member's answer
	// EventUnanswered: a held call was refused because nobody answered.
	EventUnanswered = "unanswered"
	// EventUsage: calls were recorded (spend changed); at most one a
	// second, for fronts that show spend.
	EventUsage   = "usage"
	EventHub     = "hub"     // the hub link changed
	EventChanged = "changed" // preferences, keys or policy changed: fronts refresh
)

// Event is one line of the daemon's event stream (GET /v1/events,
// newline-delimited JSON): what a tray or notifier shows.
type Event struct {
	Time       time.Time    `json:"time"`
	Kind       string       `json:"kind"`
	Service    byok.Service `json:"service,omitempty"`
	Title      string       `json:"title"`
	Body       string       `json:"body"`
	ApprovalID string       `json:"approval_id,omitempty"`
}

// Approval is a call held until the member answers.
type Approval struct {
	ID       string       `json:"id"`
	Service  byok.Service `json:"service"`
	Model    string       `json:"model"`
	App      string       `json:"app"`
	Project  string       `json:"project"`
	Estimate byok.Micros  `json:"estimate_micros"`
	Created  time.Time    `json:"created"`
	Expires  time.Time    `json:"expires"`
	// Choices are the answers that make sense: "personal", "shared", "deny".
	Choices []string `json:"choices"`
}

// Answer replies to an approval. For > 0 makes it stand for the same app
// and service for that many minutes.
type Answer struct {
	Answer  string `json:"answer"` // personal, shared or deny
	Minutes int    `json:"minutes"`
}
