// Package notify is byokd's desktop voice: native notifications for what a
// member should know (a call fell back to the team key, a budget threshold,
// a key that stopped working, the hub link lost for long), coalesced to one
// per kind and service per minute with a count, and approval popups for
// "ask each time" calls, answered through the notification's buttons.
//
// A Notifier runs on the daemon's event stream through the small Backend
// interface (the daemon's control backend, or a control.Client). Plain
// notifications go through a Poster (Beeep: github.com/gen2brain/beeep);
// popups through an Asker (Popups: freedesktop notifications with actions
// over D-Bus). Popups trust an ActionInvoked signal only for a
// notification they created, only from the bus name that owned
// org.freedesktop.Notifications when they created it, and only once.
package notify
