#!/bin/sh
# byokd postremove: make logged-in users' systemd forget the removed unit.
# Users' keys, tokens and ledger stay in their $BYOKD_HOME; delete them
# with `byokd service uninstall --purge` before removing the package.
set -e
command -v systemctl >/dev/null 2>&1 || exit 0
[ -d /run/systemd/system ] || exit 0
for dir in /run/user/*/; do
	uid=$(basename "$dir")
	[ -S "${dir}systemd/private" ] || continue
	user=$(getent passwd "$uid" | cut -d: -f1)
	[ -n "$user" ] || continue
	systemctl --user -M "$user@" daemon-reload >/dev/null 2>&1 || true
done
exit 0
