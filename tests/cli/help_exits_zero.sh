#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 'modgate --help' and 'modgate CMD [SUB] --help' exit 0 for every command the help lists, and a
# bad option exits 2 (docs/cli.md).
set -uo pipefail
modgate=${1:?usage: help_exits_zero.sh MODGATE}
failures=0 passed=0
subcommands() { "$@" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'; }
check_help() {
	if "$@" --help >/dev/null 2>&1; then
		passed=$((passed + 1))
	else
		echo "FAIL: '$* --help' exited $?"
		failures=$((failures + 1))
	fi
}
check_help "$modgate"
for cmd in $(subcommands "$modgate"); do
	check_help "$modgate" "$cmd"
	for sub in $(subcommands "$modgate" "$cmd"); do check_help "$modgate" "$cmd" "$sub"; done
done
"$modgate" status --no-such-option >/dev/null 2>&1
rc=$?
if [[ $rc -eq 2 ]]; then passed=$((passed + 1)); else echo "FAIL: bad option exited $rc, not 2"; failures=$((failures + 1)); fi
echo "$passed passed, $failures failed"
[[ $failures -eq 0 && $passed -ge 10 ]]
