#!/bin/sh
# byokd preremove (deb: remove | upgrade NEW; rpm: 0 remove, 1 upgrade).
# On removal, stops byokd for logged-in users (gracefully: in-flight calls
# finish, the ledger is flushed) and stops enabling it at login. Users' own
# links to the unit dangle, which systemd ignores, and a reinstall finds
# them. Upgrades keep it running; postinstall restarts it.
set -e
case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac
command -v systemctl >/dev/null 2>&1 || exit 0
if [ -d /run/systemd/system ]; then
	for dir in /run/user/*/; do
		uid=$(basename "$dir")
		[ -S "${dir}systemd/private" ] || continue
		user=$(getent passwd "$uid" | cut -d: -f1)
		[ -n "$user" ] || continue
		systemctl --user -M "$user@" stop byokd.service >/dev/null 2>&1 || true
	done
fi
systemctl --global disable byokd-enable.service >/dev/null 2>&1 || true
exit 0
