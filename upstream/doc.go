// Package upstream talks to a provider on someone's behalf; the local
// proxy (package localproxy) and the hub's relay (package hub) both send
// their calls through it, so provider handling exists once:
//
//   - the credentials a client sent are stripped and the call is signed
//     where the provider expects its key (or, through a hub relay, with the
//     device credential);
//   - a call's credentials are tried in order, the buffered body replayed,
//     moving on only when the caller's Fallback allows it;
//   - every response header and body is scrubbed of the key that signed it;
//   - the response streams back unbuffered through a metering.Meter, and
//     the call's usage row is committed before its last byte is released;
//   - failures map to 502, 504 or 499 (the client went away) and name the
//     party that failed, the provider or the team hub;
//   - refusals are written in the provider's own error shape (WriteError).
//
// A Forwarder is safe for concurrent use.
package upstream
