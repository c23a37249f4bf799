package main

import "byokd.dev/byok/control"

var teamCmd = command{
	summary: "open the team hub's web view, signed in as you",
	usage: `Usage: byokd team [--print]

Opens the team hub's web view (your spend, your calls, the team's shared
keys as they concern you) in your browser. Your daemon asks the hub for a
one-time login link with this device's credential (from byokd join); the
link works once and expires after 15 minutes. --print only prints it.

Example:
  byokd team
  byokd team --print`,
	run: openLogin((*control.Client).HubLoginURL),
}
