#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# modgate run --config FILE (docs/config.md): keys are the long options of 'modgate run'; an
# unknown key, an unknown section, a bad value and an unreadable file each stop the agent with one
# sentence naming the file and the key (exit 2) before anything is loaded; values are applied;
# the command line wins over the file. Run on the build machine, where nothing can be loaded: a
# value reaching the agent shows in the message of the step that uses it.
set -uo pipefail
modgate=${1:?usage: run_config_file.sh MODGATE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() { # NAME EXPECTED_RC PATTERN CONFIG-TEXT [ARGS...]
	local name=$1 want_rc=$2 pattern=$3 text=$4
	shift 4
	printf '%s' "$text" >"$tmp/$name.conf"
	"$modgate" run --config "$tmp/$name.conf" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	# A usage error is one line. A policy the agent cannot read is said first; here the kernel's
	# refusal of the programs follows it (elsewhere the fallback would run: docs/boot.md).
	local lines=1
	((want_rc == 1)) && lines=2
	if [[ $rc -ne $want_rc ]] || ! head -n1 "$tmp/err" | grep -qE -- "$pattern" ||
		[[ $(wc -l <"$tmp/err") -ne $lines ]]; then
		echo "FAIL $name: exit $rc (want $want_rc), stderr (want $lines line(s), the first matching /$pattern/):"
		cat "$tmp/err"
		failures=$((failures + 1))
		return
	fi
	echo "ok $name: $(cat "$tmp/err")"
}

check unknown-key 2 "unknown-key.conf: unknown key 'polcy'" $'polcy = "/etc/p.yaml"\n'
check unknown-section 2 "unknown section \[agent\]" $'[agent]\npolicy = "/x"\n'
check bad-number 2 "bad-number.conf: hook_rate: .*--hook-rate" $'hook_rate = "fast"\n'
check out-of-range 2 "hook_max_running: .*not in range 1 to 1024" $'hook_max_running = 0\n'
check bad-flag 2 "bad-flag.conf: arm_only: " $'arm_only = maybe\n'
check two-values 2 "two-values.conf: policy: " $'policy = "a" "b"\n'
check not-configurable 2 "unknown key 'config'" $'config = "/etc/other.conf"\n'
check not-toml 2 "unknown key 'this is not toml'" $'this is not toml\n'
# Applied: the policy named in the file is the one the agent tries to read, under [run] too, with
# dashes or underscores.
check applied 1 "^modgate run: $tmp/from-config.yaml: No such file" \
	"policy = \"$tmp/from-config.yaml\""$'\non_deny = "logger -t modgate-deny"\nhook-timeout = 5\n'
check section 1 "^modgate run: $tmp/in-section.yaml: No such file" \
	$'[run]\n'"policy = \"$tmp/in-section.yaml\""$'\nverbose = true\n'
check command-line-wins 1 "^modgate run: $tmp/cli.yaml: No such file" \
	"policy = \"$tmp/from-config.yaml\""$'\n' --policy "$tmp/cli.yaml"
# The file's values go through the same checks as the command line's.
check hook-limits 2 "hook_burst: .*not in range" $'hook_burst = 100000\n'

"$modgate" run --config "$tmp/missing.conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [[ $rc -eq 2 ]] && grep -q "cannot read configuration file $tmp/missing.conf" "$tmp/err"; then
	echo "ok missing-file: $(cat "$tmp/err")"
else
	echo "FAIL missing-file: exit $rc"; cat "$tmp/err"; failures=$((failures + 1))
fi

if ((failures)); then
	echo "$failures failed"
	exit 1
fi
echo "all config checks passed"
