#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Human output is colored only on a terminal and never with NO_COLOR set or TERM=dumb; scripts
# (pipes, --json) never see an escape. The terminal is a real pseudo-terminal from script(1).
set -uo pipefail
modgate=${1:?usage: color_pty.sh MODGATE}
failures=0 passed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
esc=$'\033['
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'version: 1\nmode: enforce\nmodules: []\nallow_empty: true\n' >"$tmp/a.yaml"
printf 'version: 2\nmode: dry-run\nmodules:\n  - name: dummy\n    sha256: %064d\n' 0 >"$tmp/b.yaml"
printf 'version: x\n' >"$tmp/bad.yaml"

in_pty() { # run a command line in a pseudo-terminal; its output (both streams) on stdout
	TERM=${TERM_FOR_TEST:-xterm} script -qec "$1" /dev/null
}
colored() { [[ $1 == *"$esc"* ]]; }

out=$(in_pty "$modgate policy check $tmp/a.yaml")
colored "$out" && ok || bad "policy check on a terminal is not colored: $out"
[[ $out == *"${esc}1;32mok${esc}0m"* ]] && ok || bad "'ok' is not green on a terminal: $(cat -v <<<"$out")"
out=$(in_pty "$modgate policy check $tmp/bad.yaml")
[[ $out == *"${esc}1;31m"*"bad.yaml:1:"* ]] && ok || bad "a problem is not red on a terminal: $(cat -v <<<"$out")"
out=$(in_pty "$modgate policy diff $tmp/a.yaml $tmp/b.yaml")
[[ $out == *"${esc}32m+ dummy"* ]] && ok || bad "an added module is not green in diff: $(cat -v <<<"$out")"

out=$(NO_COLOR=1 in_pty "$modgate policy check $tmp/a.yaml $tmp/bad.yaml")
colored "$out" && bad "NO_COLOR=1 still colored: $(cat -v <<<"$out")" || ok
[[ $out == *"a.yaml: ok, enforce"* ]] && ok || bad "NO_COLOR output lost its text: $out"
out=$(NO_COLOR= in_pty "$modgate policy check $tmp/a.yaml")
colored "$out" && ok || bad "an empty NO_COLOR must not disable color (no-color.org)"
out=$(TERM_FOR_TEST=dumb in_pty "$modgate policy check $tmp/a.yaml")
colored "$out" && bad "TERM=dumb still colored" || ok

out=$("$modgate" policy check "$tmp/a.yaml" "$tmp/bad.yaml" 2>&1 | cat)
colored "$out" && bad "piped output is colored: $(cat -v <<<"$out")" || ok
out=$(in_pty "$modgate policy check --json $tmp/a.yaml")
colored "$out" && bad "--json on a terminal is colored" || ok

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
