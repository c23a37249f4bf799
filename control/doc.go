// Package control is the daemon's control API: the wire types, the HTTP
// handler the daemon serves on loopback, and the typed Client that the CLI,
// the tray and other local fronts use. It carries key metadata but never key
// material back out: a secret goes in once (AddKey) and is never returned.
//
// The API listens on 127.0.0.1 on a port the daemon picks; the daemon writes
// the address to StateFile and random bearer tokens to TokenFile and
// ReadTokenFile (0600) in $BYOKD_HOME: the first may do anything, the
// second only read. Only someone who can read that folder can call it.
package control
