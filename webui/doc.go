// Package webui is the Credential Manager: the member's local page for
// personal keys (add, test, remove; a key is never shown again, only its
// fingerprint), preferences and fallback per service, app tokens, this
// month's usage with charts drawn on the server as inline SVG, and pending
// approvals. It is plain server-rendered HTML from embed, with no asset
// from the internet and no inline script.
//
// The daemon serves it under /ui/ on its loopback control listener. A
// browser gets in only through a one-time login link (`byokd ui`); the
// link sets a session cookie (HttpOnly, SameSite=Strict). Every request
// passes one gate (UI.ServeHTTP); every form carries a CSRF token.
package webui
