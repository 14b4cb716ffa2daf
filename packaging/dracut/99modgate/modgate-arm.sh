#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# dracut without systemd: the cmdline hook runs before udev starts (docs/boot.md).
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh
if [ "$(getarg modgate=)" = off ]; then
	info "modgate: not armed in the initramfs (modgate=off)"
else
	rc=0
	/usr/sbin/modgate run --arm-only --policy /etc/modgate/policy.yaml \
		--state-dir /run/modgate/initramfs >/run/initramfs/modgate.log 2>&1 || rc=$?
	if [ "$rc" = 3 ]; then
		# Armed with the fallback: the policy could not be put in force (docs/boot.md).
		warn "modgate: FALLBACK armed in the initramfs; the policy is not in force: $(grep FALLBACK /run/initramfs/modgate.log | tail -n 1)"
	elif [ "$rc" != 0 ]; then
		warn "modgate: could not arm in the initramfs (see /run/initramfs/modgate.log); booting on"
	fi
fi
