#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: `modgate policy check` of a fleet-size policy against `sort` of the same file, in the
# same run: time and peak memory, as ratios.
#
#   bench/policy_check_vs_sort.sh [BUILD_DIR] [RUNS] [ENTRIES] [BASELINE_MODGATE]
#
# Defaults: ./build, 5 runs, 100000 entries. The policy is the one bench/vm_policy_scale.sh writes:
# `version: 1`, `mode: enforce` and ENTRIES entries named synth000001... with random SHA-256
# values (9.4 MiB at 100 k). `sort` reads the same bytes, holds them all and writes them out
# sorted: a floor for "read a file of this size and do a little work per line". With
# BASELINE_MODGATE (another build's binary, e.g. main's), that binary's check is measured in the
# same runs too, so that a before/after comparison shares the machine's load.
#
# The page cache is warm (each command runs once untimed), the commands alternate in a rotating
# order, and the median of RUNS is reported. Peak memory is GNU time's maximum resident set of the
# process. Every check must succeed (exit 0).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
runs=${2:-5}
entries=${3:-100000}
baseline=${4:-}
modgate=$build/agent/modgate
[[ -x "$modgate" ]] || { echo "bench: $modgate not built (cmake --build $build)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time not found (Debian package time), run scripts/setup" >&2; exit 1; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench: RUNS must be a positive integer, got '$runs'" >&2; exit 2; }
[[ "$entries" =~ ^[1-9][0-9]*$ ]] || { echo "bench: ENTRIES must be a positive integer, got '$entries'" >&2; exit 2; }
[[ -z "$baseline" || -x "$baseline" ]] || { echo "bench: $baseline is not an executable" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
policy=$out/policy.yaml
{
	echo "version: 1"
	echo "mode: enforce"
	echo "modules:"
	head -c $((32 * entries)) /dev/urandom | od -An -v -tx1 | tr -d ' \n' | fold -w64 |
		awk '{ printf "  - name: synth%06d\n    sha256: %s\n", NR, $0 }'
} >"$policy"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timed NAME CMD...: runs CMD under GNU time; appends "wall_seconds max_rss_kib cpu_seconds" to
# $out/NAME. Wall time from the clock around it: GNU time's %e has only 10 ms resolution. CPU time
# (user + system) is reported too: on a shared machine it moves far less than wall time.
timed() {
	local name=$1
	shift
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f '%M %U %S' -o "$out/$name.rss" "$@"
	t1=$(date +%s%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(tail -n1 "$out/$name.rss" | awk '{ printf "%s %.2f", $1, $2 + $3 }')" >>"$out/$name"
}
run_check() { timed check "$modgate" policy check -q "$policy"; }
run_sort() { timed sort sort "$policy" -o "$out/sorted"; }
run_base() { timed base "$baseline" policy check -q "$policy"; }
cmds=(run_check run_sort)
[[ -n "$baseline" ]] && cmds+=(run_base)

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo "machine: $(nproc) CPUs ($cpu), kernel $(uname -r), $(sort --version | head -n1), modgate $build"
echo "policy: $entries entries, $(stat -c %s "$policy") bytes; runs: $runs per command, median"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in "${cmds[@]}"; do "$c"; done
for c in check sort base; do : >"$out/$c"; done
for ((i = 0; i < runs; i++)); do
	for ((j = 0; j < ${#cmds[@]}; j++)); do "${cmds[$(((i + j) % ${#cmds[@]}))]}"; done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in check sort base; do
	[[ -s "$out/$c" ]] || continue
	echo "$c wall seconds: $(cut -d' ' -f1 "$out/$c" | tr '\n' ' ')cpu: $(cut -d' ' -f3 "$out/$c" | tr '\n' ' ')"
done
echo

col() { cut -d' ' -f"$2" "$out/$1" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
row() { # NAME LABEL
	printf '| %s | %.3f | %.2f | %s | %s | %s | %s |\n' "$2" "$(col "$1" 1)" "$(col "$1" 3)" "$(mib "$(col "$1" 2)")" \
		"$(ratio "$(col "$1" 1)" "$(col sort 1)")" "$(ratio "$(col "$1" 3)" "$(col sort 3)")" \
		"$(ratio "$(col "$1" 2)" "$(col sort 2)")"
}
echo '| command | wall (s) | CPU (s) | peak RSS (MiB) | wall / sort | CPU / sort | RSS / sort |'
echo '|---|---:|---:|---:|---:|---:|---:|'
row sort '`sort`'
row check '`modgate policy check`'
[[ -n "$baseline" ]] && row base "\`policy check\`, $baseline"
exit 0
