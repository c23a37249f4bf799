#!/bin/sh
# byokd postinstall (deb: configure [OLD-VERSION]; rpm: 1 install, 2 upgrade).
# Enables byokd-enable.service for every user (a symlink in
# /etc/systemd/user/default.target.wants): at each user's first login it
# enables byokd.service in that user's own unit folder, once, so that a
# user who disables it stays opted out. Then it asks the systemd user
# manager of each logged-in user to reload units and to run the enabler
# now, or, on upgrade, to restart byokd so the new binary runs. State in
# each user's $BYOKD_HOME is never touched. Without systemd it does nothing.
set -e
upgrade=
case "$1" in
configure) [ -n "$2" ] && upgrade=1 ;;
2) upgrade=1 ;;
esac
if ! command -v systemctl >/dev/null 2>&1; then
	[ -n "$upgrade" ] || echo "byokd: installed. Without systemd it does not start by itself: run \`byokd run\` as your user."
	exit 0
fi
systemctl --global enable byokd-enable.service >/dev/null 2>&1 || true
if [ ! -d /run/systemd/system ]; then
	[ -n "$upgrade" ] || echo "byokd: installed. systemd is not running, so it does not start by itself: run \`byokd run\` as your user."
	exit 0
fi
for dir in /run/user/*/; do
	uid=$(basename "$dir")
	[ -S "${dir}systemd/private" ] || continue
	user=$(getent passwd "$uid" | cut -d: -f1)
	[ -n "$user" ] || continue
	systemctl --user -M "$user@" daemon-reload >/dev/null 2>&1 || true
	if [ -n "$upgrade" ]; then
		systemctl --user -M "$user@" try-restart byokd.service >/dev/null 2>&1 || true
	else
		systemctl --user -M "$user@" start --no-block byokd-enable.service >/dev/null 2>&1 || true
	fi
done
[ -n "$upgrade" ] || echo "byokd: installed; it starts for each user at login (\`systemctl --user disable byokd\` opts out). To start it now, run as your user: systemctl --user start byokd"
exit 0
