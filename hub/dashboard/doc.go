// Package dashboard is the team hub's web view (`byokd hub serve`, under
// /ui/): spend by payer, service, model and day, members and their keys,
// the shared keys' use, projects, monthly and quarterly reports (page,
// print and CSV), the audit log, and for admins the team policy, invites
// and devices. Pages are rendered on the server; charts are inline SVG
// with their numbers beside them; no script runs.
//
// A member signed in (`byokd team`) sees the same pages limited to their
// own rows: every read goes through scope, which sets the filter's member
// from the session, never from the request. Sums come from
// hub.Store.Aggregate and the audit log from hub.Store.Audit, so no page
// reads a period's rows one by one.
package dashboard
