#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 'modgate hash' must print exactly what sha256sum prints, byte for byte, on real modules: every
# 20th .ko of Debian's 6.1 package plus the largest, and a sample of 6.12's .ko.xz files.
set -euo pipefail
modgate=${1:?usage: hash_matches_sha256sum.sh MODGATE FETCH_KERNEL}
fetch=${2:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for suite in bookworm trixie; do
	dir=$("$fetch" "$suite")
	find "$dir" -name '*.ko' -o -name '*.ko.xz' | sort | awk 'NR % 20 == 1' >"$tmp/list"
	find "$dir" -name '*.ko*' -printf '%s %p\n' | sort -n | tail -n1 | cut -d' ' -f2- >>"$tmp/list"
	n=$(wc -l <"$tmp/list")
	[[ $n -ge 50 ]] || { echo "FAIL: only $n modules found under $dir"; exit 1; }
	xargs -d '\n' sha256sum <"$tmp/list" >"$tmp/expected"
	xargs -d '\n' "$modgate" hash <"$tmp/list" >"$tmp/actual"
	if ! cmp "$tmp/expected" "$tmp/actual"; then
		diff "$tmp/expected" "$tmp/actual" | head
		echo "FAIL: modgate hash differs from sha256sum on $suite"
		exit 1
	fi
	echo "ok: $n $suite modules hash identically ($(tail -n1 "$tmp/list" | xargs basename) included)"
done
