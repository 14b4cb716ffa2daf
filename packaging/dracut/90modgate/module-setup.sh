#!/bin/bash
# dracut module (Fedora/RHEL; docs/boot.md): puts modgate and /etc/modgate/policy.yaml into the
# initramfs and arms enforcement there before systemd-udevd, systemd-modules-load or dracut's own
# hooks load a module. The programs stay pinned in the bpffs under /sys, which survives
# switch_root; the modgate.service of the real root adopts them.

check() {
	require_binaries /usr/sbin/modgate || return 1
	[[ -r /etc/modgate/policy.yaml ]] || return 1
	# shellcheck disable=SC1091
	[[ -r /etc/modgate/initramfs.conf ]] && . /etc/modgate/initramfs.conf
	[[ "${MODGATE_INITRAMFS:-yes}" =~ ^(no|false|0)$ ]] && return 1
	# An enforce policy must allow every module of the kernel this initramfs is for, or the
	# machine would not boot; dracut cannot tell which modules it will add yet, so the whole
	# tree is checked.
	local mode
	mode=$(/usr/sbin/modgate policy show /etc/modgate/policy.yaml 2>/dev/null | sed -n 's/^mode: *//p')
	[[ -n "$mode" ]] || { dwarn "modgate: /etc/modgate/policy.yaml is invalid; not included"; return 1; }
	if [[ "$mode" == enforce && "${MODGATE_INITRAMFS:-yes}" != force ]] &&
		! /usr/sbin/modgate policy check --covers "/lib/modules/${kernel}" /etc/modgate/policy.yaml >/dev/null 2>&1; then
		dwarn "modgate: the enforce policy does not allow every module of ${kernel}; not included"
		return 1
	fi
	return 0
}

depends() {
	return 0
}

install() {
	inst_binary /usr/sbin/modgate
	inst_simple /etc/modgate/policy.yaml
	if dracut_module_included "systemd"; then
		inst_simple "$moddir/modgate-initrd.service" "$systemdsystemunitdir/modgate-initrd.service"
		$SYSTEMCTL -q --root "$initdir" add-wants sysinit.target modgate-initrd.service
	else
		inst_hook cmdline 01 "$moddir/modgate-arm.sh"
	fi
}
