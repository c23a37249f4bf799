#!/bin/sh
# byokd postinstall (deb: configure [OLD-VERSION]; rpm: 1 install, 2 upgrade).
# Enables the user unit for every user (a symlink in
# /etc/systemd/user/default.target.wants), then asks the systemd user
# manager of each logged-in user to reload units and, on upgrade, to
# restart byokd so the new binary runs. State in each user's $BYOKD_HOME
# is never touched. Without systemd it does nothing.
set -e
upgrade=
case "$1" in
configure) [ -n "$2" ] && upgrade=1 ;;
2) upgrade=1 ;;
esac
if ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
	[ -n "$upgrade" ] || echo "byokd: installed. Without systemd it does not start by itself: run \`byokd run\` as your user."
	command -v systemctl >/dev/null 2>&1 && systemctl --global enable byokd.service >/dev/null 2>&1 || true
	exit 0
fi
systemctl --global enable byokd.service >/dev/null 2>&1 || true
[ -n "$upgrade" ] || echo "byokd: installed; it starts at each user's next login. To start it now, run as your user: systemctl --user start byokd"
for dir in /run/user/*/; do
	uid=$(basename "$dir")
	[ -S "${dir}systemd/private" ] || continue
	user=$(getent passwd "$uid" | cut -d: -f1)
	[ -n "$user" ] || continue
	systemctl --user -M "$user@" daemon-reload >/dev/null 2>&1 || true
	if [ -n "$upgrade" ]; then
		systemctl --user -M "$user@" try-restart byokd.service >/dev/null 2>&1 || true
	fi
done
exit 0
