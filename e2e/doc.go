// Package e2e tests byokd as its users meet it: the built binary run as a
// member's daemon and as the team hub, reached by the official SDKs, a
// real browser, the CLI and real websockets, inside a private desktop
// session (scripts/desktop-session), with only the providers replaced by
// package fakeprovider. It holds tests only.
package e2e
