# shellcheck shell=bash
# Helpers shared by the VM scripts; sourced, never run. Callers set `prog` for messages.

vm_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm_cache=${MODGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modgate}

vm_die() {
	echo "${prog:-vm}: $*" >&2
	exit 1
}

# vm_need COMMAND DEBIAN-PACKAGE
vm_need() {
	command -v "$1" >/dev/null 2>&1 ||
		vm_die "$1 not found (Debian package $2), run scripts/setup"
}

# Sets VM_KDIR (unpacked package), VM_KREL (release), VM_KMODDIR (its modules tree) and
# VM_VMLINUZ from a suite name (fetched through fetch-kernel) or an unpacked package directory.
vm_kernel() {
	local spec=$1
	case "$spec" in
	bookworm | trixie) VM_KDIR=$("$vm_scripts/fetch-kernel" "$spec") ||
		vm_die "fetch-kernel $spec failed" ;;
	*)
		[[ -d "$spec" ]] || vm_die "kernel '$spec' is neither bookworm, trixie nor a directory"
		VM_KDIR=$(cd "$spec" && pwd)
		;;
	esac
	local images=("$VM_KDIR"/boot/vmlinuz-*)
	[[ -f "${images[0]}" ]] || vm_die "no boot/vmlinuz-* under $VM_KDIR"
	((${#images[@]} == 1)) || vm_die "several kernels under $VM_KDIR/boot, expected one"
	VM_VMLINUZ=${images[0]}
	VM_KREL=${VM_VMLINUZ##*/vmlinuz-}
	# trixie's packages are merged-/usr, bookworm's are not.
	VM_KMODDIR=
	local d
	for d in "$VM_KDIR/lib/modules/$VM_KREL" "$VM_KDIR/usr/lib/modules/$VM_KREL"; do
		if [[ -d "$d" ]]; then
			VM_KMODDIR=$d
			break
		fi
	done
}

# Debian's packages ship no modules.dep (postinst runs depmod), and kmod 30 only looks under
# <base>/lib/modules, so the whole tree is depmod'ed once through a shadow base that links the
# package's kernel/ directory; the package itself stays pristine. Sets VM_DEPDIR.
vm_depmod_tree() {
	[[ -n "$VM_KMODDIR" ]] || vm_die "no lib/modules/$VM_KREL under $VM_KDIR"
	vm_need depmod kmod
	local key
	key="$(basename "$VM_KDIR")-$(printf '%s' "$VM_KMODDIR" | sha256sum | cut -c1-12)"
	local base="$vm_cache/depmod/$key"
	# shellcheck disable=SC2034 # read by the scripts sourcing this file
	VM_DEPDIR="$base/lib/modules/$VM_KREL"
	# modules.order keeps the package's mtime through dpkg -x, so a different package unpacked
	# into the same directory invalidates the index.
	local stamp
	stamp=$(stat -c %Y "$VM_KMODDIR/modules.order" 2>/dev/null || echo none)
	if [[ -f "$base/.stamp" && "$(cat "$base/.stamp")" == "$stamp" ]]; then
		return 0
	fi
	mkdir -p "$vm_cache/depmod"
	# Two tests of one kernel may start together; the second waits instead of racing.
	exec {lockfd}>"$vm_cache/depmod/$key.lock"
	flock "$lockfd"
	if ! [[ -f "$base/.stamp" && "$(cat "$base/.stamp")" == "$stamp" ]]; then
		echo "${prog:-vm}: indexing modules of $VM_KREL (once per kernel)" >&2
		local tmp
		tmp=$(mktemp -d "$vm_cache/depmod/.$key.XXXXXX")
		mkdir -p "$tmp/lib/modules/$VM_KREL"
		ln -s "$VM_KMODDIR/kernel" "$tmp/lib/modules/$VM_KREL/kernel"
		local f
		for f in modules.order modules.builtin modules.builtin.modinfo; do
			[[ -f "$VM_KMODDIR/$f" ]] && cp "$VM_KMODDIR/$f" "$tmp/lib/modules/$VM_KREL/"
		done
		depmod -b "$tmp" "$VM_KREL" || vm_die "depmod failed on $VM_KMODDIR"
		echo "$stamp" >"$tmp/.stamp"
		rm -rf "$base"
		mv "$tmp" "$base"
	fi
	exec {lockfd}>&-
}
