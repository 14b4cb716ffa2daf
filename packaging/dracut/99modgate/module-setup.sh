#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# dracut module (Fedora/RHEL; docs/boot.md): puts modgate and /etc/modgate/policy.yaml into the
# initramfs and arms enforcement there before systemd-udevd, systemd-modules-load or dracut's own
# hooks load a module. The programs stay pinned in the bpffs under /sys, which survives
# switch_root; the modgate.service of the real root adopts them. Numbered 99 so that install()
# runs after every other module has added its kernel modules (dracut runs all installkernel()
# first, then install() in order), and the check below sees them all.

check() {
	require_binaries /usr/sbin/modgate || return 1
	[[ -r /etc/modgate/policy.yaml ]] || return 1
	# shellcheck disable=SC1091
	[[ -r /etc/modgate/initramfs.conf ]] && . /etc/modgate/initramfs.conf
	[[ "${MODGATE_INITRAMFS:-yes}" =~ ^(no|false|0)$ ]] && return 1
	return 0
}

depends() {
	return 0
}

install() {
	local policy=/etc/modgate/policy.yaml mode tree problems
	# shellcheck disable=SC1091
	[[ -r /etc/modgate/initramfs.conf ]] && . /etc/modgate/initramfs.conf
	mode=$(/usr/sbin/modgate policy show "$policy" 2>/dev/null | sed -n 's/^mode: *//p')
	if [[ -z "$mode" ]]; then
		dwarn "modgate: $policy is not a valid policy; this initramfs will not enforce"
		return 0
	fi
	# An enforce policy that denies a module this initramfs holds might leave the machine
	# unbootable: not included, unless MODGATE_INITRAMFS=force (docs/boot.md).
	for tree in "$initdir/lib/modules/$kernel" "$initdir/usr/lib/modules/$kernel"; do
		[[ -d "$tree" ]] && break
	done
	if [[ "$mode" == enforce && "${MODGATE_INITRAMFS:-yes}" != force && -d "$tree" ]] &&
		[[ -n "$(find "$tree" -name '*.ko*' -print -quit)" ]] &&
		! problems=$(/usr/sbin/modgate policy check --covers "$tree" "$policy" 2>&1 >/dev/null); then
		dwarn "modgate: $policy (enforce) does not allow every module this initramfs holds; it will not enforce here:"
		while read -r line; do dwarn "modgate: ${line//$initdir/}"; done <<<"$(head -n 20 <<<"$problems")"
		return 0
	fi
	inst_binary /usr/sbin/modgate
	inst_simple "$policy"
	if dracut_module_included "systemd"; then
		inst_simple "$moddir/modgate-initrd.service" "$systemdsystemunitdir/modgate-initrd.service"
		$SYSTEMCTL -q --root "$initdir" add-wants sysinit.target modgate-initrd.service
	else
		inst_hook cmdline 01 "$moddir/modgate-arm.sh"
	fi
}
