#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Scenario 11: on the build machine (BPF LSM active, but loading LSM programs refused), 'modgate
# run' must stop with one clear sentence and a non-zero status, never a libbpf dump; and the same
# for a non-root user and for a missing policy.
set -uo pipefail
modgate=${1:?usage: run_refused_on_host.sh MODGATE}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() { # NAME EXPECTED_RC PATTERN MAX_LINES -- CMD...
	local name=$1 want_rc=$2 pattern=$3 max_lines=$4
	shift 5
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [[ $rc -ne $want_rc ]]; then
		echo "FAIL $name: exit $rc, expected $want_rc"; cat "$tmp/err"; failures=$((failures + 1)); return
	fi
	if ! grep -qE -- "$pattern" "$tmp/err"; then
		echo "FAIL $name: stderr lacks /$pattern/:"; cat "$tmp/err"; failures=$((failures + 1)); return
	fi
	if grep -q "libbpf" "$tmp/err" "$tmp/out"; then
		echo "FAIL $name: libbpf output leaked:"; cat "$tmp/err"; failures=$((failures + 1)); return
	fi
	if [[ $(wc -l <"$tmp/err") -gt $max_lines ]]; then
		echo "FAIL $name: expected at most $max_lines line(s) on stderr:"; cat "$tmp/err"; failures=$((failures + 1)); return
	fi
	echo "ok $name: $(cat "$tmp/err")"
}

cat >"$tmp/policy.yaml" <<'YAML'
version: 1
mode: enforce
modules:
  - name: dummy
    sha256: 0000000000000000000000000000000000000000000000000000000000000001
YAML

check lsm-load-refused 1 "refused to load modgate's BPF LSM programs" 1 -- \
	"$modgate" run --policy "$tmp/policy.yaml"
chmod 755 "$tmp" && chmod 644 "$tmp/policy.yaml"
check not-root 1 "must run as root" 1 -- \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$modgate" run --policy "$tmp/policy.yaml"
check no-policy 1 "no policy given .* modgate never runs without one" 1 -- \
	"$modgate" run --pin-dir "$tmp/no-such-pin-dir"
printf 'version: 1\nmode: enforce\nmodules: []\nbogus: 1\n' >"$tmp/bad.yaml"
"$modgate" run --policy "$tmp/bad.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
# The errors and the refusal are said before the kernel is asked for anything (on a host that can
# load the programs, the fallback would then run: docs/boot.md).
if [[ $rc -ne 1 ]] || ! grep -q "bad.yaml:4:1" "$tmp/err" || ! grep -q "^modgate run: the policy in .*bad.yaml is invalid" "$tmp/err"; then
	echo "FAIL invalid-policy: exit $rc"; cat "$tmp/err"; failures=$((failures + 1))
else
	echo "ok invalid-policy: $(head -n1 "$tmp/err")"
fi
echo "$((4 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
