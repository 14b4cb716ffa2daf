#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The generated modgate(8) renders without a groff warning, and the generated bash completion
# completes commands, subcommands, options and file names as a user at a prompt would see.
set -uo pipefail
modgate=${1:?usage: man_and_completion.sh MODGATE MANPAGE}
man=${2:?usage: man_and_completion.sh MODGATE MANPAGE}
failures=0 passed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

warnings=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
[[ -z $warnings ]] && ok || bad "groff warns on $man: $warnings"
rendered=$(MANWIDTH=80 man -l "$man" 2>/dev/null)
for section in "modgate run" "modgate policy check" "EXIT STATUS" "NO_COLOR"; do
	grep -q "$section" <<<"$rendered" && ok || bad "man page lacks '$section'"
done

# shellcheck disable=SC1090
source <("$modgate" completion bash) || bad "completion script does not load"
# complete LINE: the candidates bash would offer for the last word of LINE.
complete_line() {
	read -ra COMP_WORDS <<<"$1"
	[[ $1 == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_modgate
	printf '%s\n' "${COMPREPLY[@]}"
}
expect() { # LINE WORD: WORD is among the candidates
	complete_line "$1" | grep -qx -- "$2" && ok || bad "'$1<TAB>' does not offer '$2' (got: $(complete_line "$1" | tr '\n' ' '))"
}
refuse() { # LINE WORD: WORD is not among the candidates
	complete_line "$1" | grep -qx -- "$2" && bad "'$1<TAB>' offers '$2'" || ok
}
expect "modgate " policy
expect "modgate " run
expect "modgate sta" status
refuse "modgate sta" policy
expect "modgate policy " check
expect "modgate policy ch" check
expect "modgate run --pol" --policy
expect "modgate status --" --json
refuse "modgate status --" --policy
expect "modgate policy check --" --json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/fleet-policy.yaml"
expect "modgate run --policy $tmp/fleet" "$tmp/fleet-policy.yaml"
expect "modgate policy check $tmp/fleet" "$tmp/fleet-policy.yaml"

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
