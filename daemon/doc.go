// Package daemon wires byokd's per-user background service together: the
// state folder, the ledger, the secret store, the local proxy, the control
// API and their lifecycle. It is the only package besides cmd/byokd that
// knows every other one.
package daemon
