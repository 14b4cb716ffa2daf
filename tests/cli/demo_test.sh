#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command keeps working: scripts/demo runs to its end on the real kernel, tells
# the story it promises, and every line fits an 80-column terminal.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: demo_test.sh BUILD_DIR}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
MODGATE_BUILD_DIR=$build "$here/scripts/demo" >"$out" 2>&1
rc=$?
failures=0
expect() { # DESCRIPTION PATTERN
	if grep -qE -- "$2" "$out"; then echo "ok: $1"; else echo "FAIL: $1 (no /$2/)"; failures=$((failures + 1)); fi
}
[[ $rc -eq 0 ]] || { echo "FAIL: scripts/demo exited $rc"; failures=$((failures + 1)); }
expect "dry-run reports the rootkit" "event: would-deny module_load not-listed name=minix sha256="
expect "enforce refuses it" "insmod: ERROR: could not insert module /rk/minix.ko: Operation not permitted"
expect "autoload is denied" "event: deny module_request autoload-deny name=rtnl-link-nlmon"
expect "a forced load is denied" "event: deny module_load forced name=dummy"
expect "status shows the policy" "^  mode +enforce"
expect "suggest proposes the rootkit's hash for review" "^  \+ minix "
expect "metrics show enforcement" "^  modgate_enforcing 1$"
expect "the story ends" "^ok: demo finished"
wide=$(awk 'length > 80' "$out" | wc -l)
if [[ $wide -ne 0 ]]; then
	echo "FAIL: $wide line(s) wider than 80 columns:"
	awk 'length > 80' "$out"
	failures=$((failures + 1))
fi
[[ $failures -eq 0 ]] || { echo "--- demo output ---"; cat "$out"; }
echo "$((9 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
