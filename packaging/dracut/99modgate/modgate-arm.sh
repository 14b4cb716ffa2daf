#!/bin/sh
# dracut without systemd: the cmdline hook runs before udev starts (docs/boot.md).
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh
if [ "$(getarg modgate=)" = off ]; then
	info "modgate: not armed in the initramfs (modgate=off)"
elif ! /usr/sbin/modgate run --arm-only --policy /etc/modgate/policy.yaml \
	--state-dir /run/modgate/initramfs >/run/initramfs/modgate.log 2>&1; then
	warn "modgate: could not arm in the initramfs (see /run/initramfs/modgate.log); booting on"
fi
