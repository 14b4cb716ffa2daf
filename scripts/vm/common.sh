# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
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

# The kernels the suite knows, one line each: KEY TAGS RELEASE SOURCE... (see the file).
vm_pins=$vm_scripts/kernels

# vm_pin_keys: the pinned keys, one a line, in file order.
vm_pin_keys() {
	[[ -f "$vm_pins" ]] || vm_die "pin file $vm_pins not found"
	awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$vm_pins"
}

# vm_pin KEY: sets VM_PIN_TAGS, VM_PIN_RELEASE and VM_PIN_SOURCES (array of ARCHIVE/SUITE) from
# the pin file; returns 1 if KEY is not pinned there, dies on a malformed line.
vm_pin() {
	[[ -f "$vm_pins" ]] || vm_die "pin file $vm_pins not found"
	local key tags rel rest n=0
	while read -r key tags rel rest; do
		n=$((n + 1))
		[[ -z "$key" || "$key" == \#* || "$key" != "$1" ]] && continue
		[[ -n "$rest" && ",$tags," =~ ,(full|core), ]] ||
			vm_die "$vm_pins:$n: expected KEY full|core[,xz] RELEASE ARCHIVE/SUITE..."
		# shellcheck disable=SC2034 # read by the scripts sourcing this file
		VM_PIN_TAGS=$tags VM_PIN_RELEASE=$rel
		# shellcheck disable=SC2034
		read -ra VM_PIN_SOURCES <<<"$rest"
		return 0
	done <"$vm_pins"
	return 1
}

# Sets VM_KDIR (unpacked packages), VM_KREL (release), VM_KMODDIR (its modules tree) and
# VM_VMLINUZ from a key of the pin file (fetched through fetch-kernel) or an unpacked package
# directory. Two layouts: before 7.x linux-image-<release> holds boot/vmlinuz-<release> and
# (usr/)lib/modules/<release>; from 7.x the kernel is usr/lib/modules/<release>/vmlinuz
# (linux-binary-<release>), next to the modules (linux-modules-, linux-base-<release>).
vm_kernel() {
	local spec=$1
	if [[ "$spec" != */* ]] && vm_pin "$spec"; then
		VM_KDIR=$("$vm_scripts/fetch-kernel" "$spec") || vm_die "fetch-kernel $spec failed"
	else
		[[ -d "$spec" ]] ||
			vm_die "kernel '$spec' is neither a key of $vm_pins ($(vm_pin_keys | paste -sd ' ')) nor a directory"
		VM_KDIR=$(cd "$spec" && pwd)
	fi
	local images=() f
	for f in "$VM_KDIR"/boot/vmlinuz-* "$VM_KDIR"/usr/lib/modules/*/vmlinuz "$VM_KDIR"/lib/modules/*/vmlinuz; do
		[[ -f "$f" ]] && images+=("$f")
	done
	((${#images[@]})) || vm_die "no boot/vmlinuz-* nor usr/lib/modules/*/vmlinuz under $VM_KDIR"
	((${#images[@]} == 1)) || vm_die "several kernels under $VM_KDIR (${images[*]#"$VM_KDIR"/}), expected one"
	VM_VMLINUZ=${images[0]}
	if [[ "$VM_VMLINUZ" == */boot/vmlinuz-* ]]; then
		VM_KREL=${VM_VMLINUZ##*/vmlinuz-}
	else
		VM_KREL=$(basename "$(dirname "$VM_VMLINUZ")")
	fi
	# trixie's and later packages are merged-/usr, bookworm's are not.
	VM_KMODDIR=
	local d
	for d in "$VM_KDIR/lib/modules/$VM_KREL" "$VM_KDIR/usr/lib/modules/$VM_KREL"; do
		if [[ -d "$d/kernel" ]]; then
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
