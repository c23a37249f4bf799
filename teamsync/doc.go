// Package teamsync is the wire protocol between a member's daemon and the
// team hub, and the daemon's side of it: Client, a websocket client that
// sends the ledger's outbox to the hub in acknowledged batches, reports the
// member's key inventory (never key material) and receives the team policy;
// and Join, which exchanges an invite code for a device credential.
//
// The protocol is described in docs/PROTOCOL.md. In short: the daemon dials
// GET /v1/sync with its device credential as a bearer token, says hello,
// the hub answers welcome with the current policy, then the daemon sends
// usage batches that the hub stores idempotently by event id and acks after
// commit. Policy changes are pushed by the hub at any time.
//
// This package imports only the module root and github.com/coder/websocket:
// the hub imports it for the message types, never the reverse.
package teamsync
