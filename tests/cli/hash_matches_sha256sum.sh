#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 'modgate hash' must print exactly what sha256sum prints, byte for byte, on real modules: every
# 20th .ko of Debian's 6.1 package plus the largest, and a sample of 6.12's .ko.xz files; with
# --payload, what sha256sum prints of 'xz -dc FILE'; from standard input ('-') the same again.
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

# --payload: the decompressed image, as 'xz -dc | sha256sum' has it; a plain .ko is its own.
dir=$("$fetch" trixie)
find "$dir" -name '*.ko.xz' | sort | awk 'NR % 200 == 1' >"$tmp/xz"
n=0
while read -r f; do
	want=$(xz -dc "$f" | sha256sum | cut -d' ' -f1)
	got=$("$modgate" hash --payload "$f")
	[[ "$got" == "$want  $f" ]] || { echo "FAIL: --payload of $f: '$got', want $want"; exit 1; }
	got=$(xz -dc "$f" | "$modgate" hash -)
	[[ "$got" == "$want  -" ]] || { echo "FAIL: stdin of xz -dc $f: '$got', want $want"; exit 1; }
	got=$("$modgate" hash --payload - <"$f")
	[[ "$got" == "$want  -" ]] || { echo "FAIL: --payload of stdin $f: '$got', want $want"; exit 1; }
	n=$((n + 1))
done <"$tmp/xz"
[[ $n -ge 10 ]] || { echo "FAIL: only $n .ko.xz sampled"; exit 1; }
plain=$(find "$("$fetch" bookworm)" -name '*.ko' | sort | sed -n 1p)
[[ "$("$modgate" hash --payload "$plain")" == "$(sha256sum "$plain")" ]] ||
	{ echo "FAIL: --payload of a plain .ko is not its own hash"; exit 1; }
echo "ok: --payload and stdin match xz -dc | sha256sum on $n 6.12 modules; a plain .ko is its own payload"

# A file whose xz stream is cut short: exit 1 naming it, the other files still printed.
head -c 2000 "$(head -n1 "$tmp/xz")" >"$tmp/cut.ko.xz"
set +e
"$modgate" hash --payload "$tmp/cut.ko.xz" "$plain" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] || { echo "FAIL: truncated xz exited $rc"; exit 1; }
grep -q "^modgate hash: $tmp/cut.ko.xz: " "$tmp/err" || { echo "FAIL: error does not name the file: $(cat "$tmp/err")"; exit 1; }
grep -q "  $plain\$" "$tmp/out" || { echo "FAIL: the good file was not printed after the bad one"; exit 1; }
echo "ok: a truncated .ko.xz is named ($(cat "$tmp/err")), exit 1, the rest printed"
