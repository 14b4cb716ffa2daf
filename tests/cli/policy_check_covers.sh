#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# modgate policy check --covers DIR (what the initramfs hook asks before it lets an enforce policy
# into an initramfs, docs/boot.md), on Debian's real 6.1 module tree: a policy generated from the
# tree covers it; one with a module left out names that module's file; a policy for another
# kernel is refused for its kernels list; a copy of the tree with one byte of a module changed is
# not covered.
set -uo pipefail
modgate=${1:?usage: policy_check_covers.sh MODGATE FETCH_KERNEL}
fetch=${2:?usage: policy_check_covers.sh MODGATE FETCH_KERNEL}
kdir=$("$fetch" bookworm) || { echo "FAIL: fetch-kernel bookworm"; exit 1; }
tree=$(ls -d "$kdir"/lib/modules/*/ | head -n1)
tree=${tree%/}
release=${tree##*/}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
expect() { # NAME RC PATTERN CMD...
	local name=$1 want=$2 pattern=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [[ $rc -ne $want ]] || ! grep -qE -- "$pattern" "$tmp/err" "$tmp/out"; then
		echo "FAIL $name: exit $rc (want $want), no /$pattern/:"; head -n 5 "$tmp/err" "$tmp/out"
		failures=$((failures + 1))
	else
		echo "ok $name: $(head -n 1 "$tmp/err" "$tmp/out" | grep -v '^==>' | grep . | head -n 1)"
	fi
}

"$modgate" policy init --from "$tree" --mode enforce -o "$tmp/full.yaml" 2>/dev/null || { echo "FAIL: policy init"; exit 1; }
expect covered 0 ": ok, enforce" "$modgate" policy check --covers "$tree" "$tmp/full.yaml"
awk '/^  - name: / { skip = ($0 == "  - name: \"nlmon\"") } !skip' "$tmp/full.yaml" >"$tmp/no-nlmon.yaml"
expect one-missing 1 "does not list $tree/kernel/drivers/net/nlmon.ko \(nlmon\)" \
	"$modgate" policy check --covers "$tree" "$tmp/no-nlmon.yaml"
[[ $(grep -c "does not list" "$tmp/err") -eq 1 ]] || { echo "FAIL one-missing: more than nlmon named"; failures=$((failures + 1)); }
sed "s/\"$release\"/\"6.12.0-99-amd64\"/" "$tmp/full.yaml" >"$tmp/other.yaml"
expect other-kernel 1 "its kernels list does not include $release" \
	"$modgate" policy check --covers "$tree" "$tmp/other.yaml"
# A tree whose dummy.ko differs by one byte from the one the policy was made from.
mkdir -p "$tmp/$release/kernel"
cp "$tree/kernel/drivers/net/dummy.ko" "$tmp/$release/kernel/dummy.ko"
cp "$tree/kernel/fs/minix/minix.ko" "$tmp/$release/kernel/minix.ko"
printf '\x01' | dd of="$tmp/$release/kernel/dummy.ko" bs=1 seek=100 conv=notrunc status=none
expect flipped-byte 1 "does not list $tmp/$release/kernel/dummy.ko \(dummy\)" \
	"$modgate" policy check --covers "$tmp/$release" "$tmp/full.yaml"
grep -q "minix" "$tmp/err" && { echo "FAIL flipped-byte: minix (unchanged) reported"; failures=$((failures + 1)); }
mkdir -p "$tmp/empty/$release"
expect empty-tree 1 "no module files" "$modgate" policy check --covers "$tmp/empty/$release" "$tmp/full.yaml"

if ((failures)); then
	echo "$failures failed"
	exit 1
fi
echo "all --covers checks passed"
