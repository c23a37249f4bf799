// Package hub is the team hub server (`byokd hub serve`): members' daemons
// join it with one-time invite codes, sync their usage to it over a
// websocket (package teamsync), reach the team's shared keys through its
// relay, and receive the team policy from it. The admin drives it through
// a loopback-only admin API (AdminClient, used by `byokd hub …`) and, for
// the web view (Config.Pages, hub/dashboard), one-time login links that
// open a session; a member's device asks for such a link for its member.
//
// Storage sits behind the Store interface; hub/sqlitestore is the default
// implementation. Shared keys live only in the hub's keystore.Store; no
// endpoint, log line or message carries key material.
//
// Routes on the public listener:
//
//	POST /v1/join      invite code → device credential
//	GET  /v1/sync      websocket, device credential
//	*    /relay/{service}/…  device credential; signed with a shared key
//	GET  /v1/usage     device credential (own rows) or admin session (all)
//	POST /v1/login-link  device credential → a one-time login link for its member
//	GET  /login        a page with a button that posts the code
//	POST /login        one-time code → session cookie (an admin's or a member's)
//	GET  /v1/health    no credential
//	GET  /             redirects to /ui/ when Config.Pages is set
//	*    /ui/…         the web view (hub/dashboard): session cookie; forms
//	                   also need the session's CSRF token; a member's session
//	                   reads only the member's rows
//
// The admin API listens on 127.0.0.1 only; see AdminHandler.
package hub
