#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# modgate audit as a CI gate on a fake root: 0 when clean, 1 on findings, 2 when it cannot run;
# --json parses and its summary agrees with the exit status.
set -euo pipefail
modgate=$1
data=$2 # tests/data/policy/modules
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

rel=6.1.0-test-amd64
mods=$tmp/root/lib/modules/$rel
mkdir -p "$tmp/root/proc/sys/kernel" "$mods/kernel/fs" "$tmp/root/etc/modprobe.d"
echo "$rel" >"$tmp/root/proc/sys/kernel/osrelease"
echo 0 >"$tmp/root/proc/sys/kernel/tainted"
cp "$data/fake_signed.ko" "$mods/kernel/fs/fake_signed.ko"
cp "$data/fake_plain.ko" "$mods/kernel/fs/fake_plain.ko"
printf 'kernel/fs/fake_signed.ko:\nkernel/fs/fake_plain.ko:\n' >"$mods/modules.dep"
: >"$mods/modules.builtin"

echo "fake_signed 16384 0 - Live 0xffffffffc0000000" >"$tmp/root/proc/modules"
rc=0
"$modgate" audit --root "$tmp/root" >"$tmp/out" 2>"$tmp/err" || rc=$?
[[ $rc == 0 ]] || fail "clean root: exit $rc, expected 0: $(cat "$tmp/out" "$tmp/err")"
grep -q 'signature: modgate test signing key, key [0-9a-f]*, sha256' "$tmp/out" ||
	fail "text output lacks the signer line"

echo "fake_plain 16384 0 - Live 0xffffffffc0000000 (E)" >>"$tmp/root/proc/modules"
rc=0
"$modgate" audit --root "$tmp/root" --json >"$tmp/out" 2>"$tmp/err" || rc=$?
[[ $rc == 1 ]] || fail "unsigned module loaded: exit $rc, expected 1"
python3 - "$tmp/out" <<'PY' || fail "JSON summary"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["schema"] == "modgate-audit/1", j["schema"]
assert j["summary"]["unsigned"] == 1, j["summary"]
assert j["summary"]["findings"] == len(j["findings"]) > 0
m = {x["name"]: x for x in j["modules"]}
assert m["fake_plain"]["findings"] == ["unsigned", "module-tainted"], m["fake_plain"]
PY

rc=0
"$modgate" audit --root "$tmp/nowhere" >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] || fail "no /proc/modules: exit $rc, expected 2"
grep -q 'cannot read .*proc/modules' "$tmp/err" || fail "no clear error: $(cat "$tmp/err")"

printf 'version: [\n' >"$tmp/bad.yaml"
rc=0
"$modgate" audit --root "$tmp/root" --policy "$tmp/bad.yaml" >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] || fail "invalid policy: exit $rc, expected 2"
grep -q 'bad.yaml' "$tmp/err" || fail "policy error does not name the file"
echo ok
