#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# vm.boot.*: the harness itself works on this kernel: BPF LSM on, BTF present, the real kmod
# tools load real package modules (with dependencies), and loadmod reaches each syscall path
# the agent will have to gate, with errno reported exactly.
# Needs modules: dummy ipip. Needs binaries: loadmod.
# shellcheck disable=SC2317 # the helpers below run through check, which shellcheck cannot see
# shellcheck source=/dev/null # /vm/lib.sh is scripts/vm/guest-lib.sh
. /vm/lib.sh

echo "kernel $(uname -r); LSMs: $(cat /sys/kernel/security/lsm)"

has_lsm() { tr , '\n' </sys/kernel/security/lsm | grep -qx "$1"; }
mounted() { grep -q " $1 $2 " /proc/mounts; }
listed() { lsmod | grep -q "^$1 "; }
unlisted() { ! listed "$1"; }

check "securityfs mounted" mounted /sys/kernel/security securityfs
check "bpffs mounted" mounted /sys/fs/bpf bpf
check "bpf is an active LSM" has_lsm bpf
check "/sys/kernel/btf/vmlinux present" test -s /sys/kernel/btf/vmlinux
check "modprobe is Debian's kmod, not busybox" sh -c 'modprobe --version | grep -q "^kmod version"'

# kmod path: modprobe/lsmod/rmmod on a dependency-free module, then on one with dependencies.
check "modprobe dummy" modprobe dummy
check "lsmod lists dummy" listed dummy
check "rmmod dummy" rmmod dummy
check "dummy gone from lsmod" unlisted dummy
check "modprobe ipip (pulls tunnel4, ip_tunnel)" modprobe ipip
check "lsmod lists ipip" listed ipip
check "lsmod lists dependency ip_tunnel" listed ip_tunnel
check "modprobe -r ipip" modprobe -r ipip
check "ipip and its dependencies unloaded" sh -c '! lsmod | grep -qE "^(ipip|tunnel4|ip_tunnel) "'

# loadmod path: each syscall explicitly.
ko=$(modinfo -n dummy)
echo "dummy module file: $ko"
case "$ko" in
*.ko.xz)
	# trixie: in-kernel decompression through finit_module's flag; init_module needs plain ELF.
	check "finit --compressed dummy.ko.xz" loadmod finit "$ko" --compressed
	check "lsmod lists dummy" listed dummy
	check_rc 17 "second finit --compressed gives EEXIST" loadmod finit "$ko" --compressed
	check "delete dummy" loadmod delete dummy
	check_rc 8 "finit of .ko.xz without --compressed gives ENOEXEC" loadmod finit "$ko"
	check "unxz dummy.ko.xz" sh -c "xz -dc '$ko' >/tmp/dummy.ko"
	check "init decompressed dummy.ko" loadmod init /tmp/dummy.ko
	check "delete dummy" loadmod delete dummy
	# Flags and parameters reach the kernel: numdummies=2 makes a second device.
	check "finit --compressed --ignore-modversions --ignore-vermagic numdummies=2" \
		loadmod finit "$ko" --compressed --ignore-modversions --ignore-vermagic numdummies=2
	check "module parameter applied (dummy1 exists)" test -d /sys/class/net/dummy1
	check "delete dummy" loadmod delete dummy
	;;
*.ko)
	# bookworm: plain modules, no in-kernel decompression.
	check "init dummy.ko" loadmod init "$ko"
	check "lsmod lists dummy" listed dummy
	check_rc 17 "second init gives EEXIST" loadmod init "$ko"
	check "delete dummy" loadmod delete dummy
	check "finit dummy.ko" loadmod finit "$ko"
	check "lsmod lists dummy" listed dummy
	check "delete dummy" loadmod delete dummy
	check_rc 95 "finit --compressed without in-kernel decompression gives EOPNOTSUPP" \
		loadmod finit "$ko" --compressed
	# Flags and parameters reach the kernel: numdummies=2 makes a second device.
	check "finit --ignore-modversions --ignore-vermagic numdummies=2" \
		loadmod finit "$ko" --ignore-modversions --ignore-vermagic numdummies=2
	check "module parameter applied (dummy1 exists)" test -d /sys/class/net/dummy1
	check "delete dummy" loadmod delete dummy
	;;
*)
	fail "unexpected module file name '$ko'"
	;;
esac
check "dummy gone from lsmod" unlisted dummy
check_rc 2 "delete of an unloaded module gives ENOENT" loadmod delete dummy

vm_finish
