// Package tray is byokd's tray menu (fyne.io/systray): the daemon's state
// at a glance, spend this month, which key each service uses, pending
// approvals, and shortcuts to the Credential Manager page.
//
// The tray is a client of the daemon's control API like any other: it
// never touches keys, the ledger or the proxy. It follows the daemon's
// event stream and redraws within a second of a change made anywhere (the
// CLI, the page, a hub policy), reconnecting with backoff when the daemon
// restarts.
//
// fyne.io/systray keeps its menu in package globals, so Run may be called
// once per process. On Linux it needs only the session bus (the menu is
// exported as com.canonical.dbusmenu at /StatusNotifierItem/menu under the
// bus name org.kde.StatusNotifierItem-PID-1) and may run on any goroutine.
package tray
