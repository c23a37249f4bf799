// Package routing decides, without any I/O, which credentials a proxied call
// tries and in what order: the member's personal keys (primary first), then
// the team's shared key through the hub relay when preference, team policy,
// budgets and key health allow it. It also says when the member must approve
// shared use first, reads upstream failures to tell whether the next
// credential may be tried (Classify), and remembers which personal keys are
// cooling down after failing as invalid or out of quota (Health).
//
// Decide and Classify are pure functions of their arguments and safe for
// concurrent use; Health is the only state, and it is safe for concurrent use
// as well.
package routing
