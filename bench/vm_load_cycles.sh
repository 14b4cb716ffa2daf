#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: cost of modgate on module loading, inside the VM on Debian's real kernels.
#
#   bench/vm_load_cycles.sh [BUILD_DIR] [CYCLES]
#
# In one boot per kernel: CYCLES load/unload cycles of a small allowlisted module (dummy) with no
# agent, then the same with `modgate run` enforcing a policy that lists it, then without again.
# Under TCG emulation absolute times mean little; the ratio (agent / baseline) is the figure.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
cycles=${2:-200}
# The guest's clock counts instructions (1 ns each, idle time skipped: scripts/vm/run-vm --icount),
# so what it times does not move with the host's load; MODGATE_BENCH_ICOUNT= (empty) times in
# real time instead.
icount=${MODGATE_BENCH_ICOUNT-0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cat >"$out/guest.sh" <<GUEST
. /scenarios/lib.sh
n=$cycles
f=\$(modfile dummy)
flag=
is_compressed "\$f" && flag=--compressed
now() { cut -d' ' -f1 /proc/uptime; }
cycle() {
	i=0
	while [ \$i -lt \$n ]; do
		"\$LOADMOD" finit "\$f" \$flag >/dev/null || fail "load \$i failed"
		"\$LOADMOD" delete dummy >/dev/null || fail "unload \$i failed"
		i=\$((i + 1))
	done
}
t0=\$(now); cycle; t1=\$(now)
write_policy /tmp/policy.yaml enforce "" dummy
start_agent /tmp/policy.yaml >/dev/null
t2=\$(now); cycle; t3=\$(now)
stop_agent
t4=\$(now); cycle; t5=\$(now)
echo "BENCH \$(uname -r) cycles=\$n base1=\$(echo "\$t1 - \$t0" | bc 2>/dev/null || awk "BEGIN{print \$t1-\$t0}") agent=\$(awk "BEGIN{print \$t3-\$t2}") base2=\$(awk "BEGIN{print \$t5-\$t4}")"
GUEST
sed -i 's/base1=$(echo "$t1 - $t0" | bc 2>\/dev\/null || awk "BEGIN{print $t1-$t0}")/base1=$(awk "BEGIN{print $t1-$t0}")/' "$out/guest.sh"

printf '| kernel | cycles | no agent (s) | agent enforcing (s) | no agent again (s) | ratio agent / mean baseline |\n'
printf '|---|---|---|---|---|---|\n'
for k in bookworm trixie; do
	"$here/scripts/vm/run-guest-test" --kernel "$k" --script "$out/guest.sh" --log "$out/$k.log" \
		--module dummy --bin "$build/agent/modgate" --bin "$build/tests/vm/loadmod" \
		--file "$here/tests/vm/scenarios/lib.sh:/scenarios/lib.sh" ${icount:+--icount "$icount"} \
		--timeout 900 >/dev/null
	line=$(grep '^BENCH' "$out/$k.log")
	set -- $line
	rel=$2
	b1=${4#base1=} a=${5#agent=} b2=${6#base2=}
	ratio=$(awk -v a="$a" -v b1="$b1" -v b2="$b2" 'BEGIN { printf "%.2f", a / ((b1 + b2) / 2) }')
	printf '| %s | %s | %s | %s | %s | %s |\n' "$rel" "$cycles" "$b1" "$a" "$b2" "$ratio"
done
