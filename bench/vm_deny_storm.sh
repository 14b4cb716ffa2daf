#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the agent's resident memory and CPU while idle and under a storm of denied loads, and
# whether every denial is either written or counted as lost. Debian's real kernel under QEMU TCG.
#
#   bench/vm_deny_storm.sh [BUILD_DIR] [REPS] [KERNEL] [ATTEMPTS] [IDLE_SECONDS]
#   bench/vm_deny_storm.sh --smoke [BUILD_DIR]     (1 rep of 200 attempts, 5 s idle)
#
# Defaults: ./build, 3 repetitions (medians reported), bookworm, 10000 attempts, 60 s idle. Needs
# the modgate, modgate_loadmod and modgate_mgbench targets.
#
# In one boot (bench/vm/deny_storm.sh in the guest), with `modgate run` enforcing a policy that
# lists dummy only:
#   - idle: the agent's VmRSS/VmHWM (/proc/PID/status) and utime+stime (/proc/PID/stat) over
#     IDLE_SECONDS of nothing, against the whole guest's busy time in the same interval;
#   - storm: `mgbench storm` calls finit_module on crc7 (not listed) ATTEMPTS times from one
#     process. Measured: the loader's own CPU time (getrusage: the hook's hashing runs in its
#     syscalls), the agent's CPU during the storm and while it finishes writing, the guest's busy
#     time, and three counts: deny events the agent wrote, events_lost from `modgate status
#     --json` (the ring buffer's drops), and the kernel's deny counter from the same status;
#   - the same storm with the agent stopped (its pinned programs still deny), as the baseline;
#     the two alternate REPS times.
# The memory baseline is the peak RSS of `modgate version` (the same binary and libraries).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
smoke=0
if [[ "${1:-}" == --smoke ]]; then
	smoke=1
	shift
fi
build=${1:-$here/build}
reps=${2:-3}
kernel=${3:-bookworm}
attempts=${4:-10000}
idle=${5:-60}
((smoke)) && { reps=1; attempts=200; idle=5; }
for v in "$reps" "$attempts" "$idle"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench: REPS, ATTEMPTS and IDLE_SECONDS must be positive integers, got '$v'" >&2; exit 2; }
done
for b in agent/modgate tests/vm/loadmod bench/mgbench; do
	[[ -x "$build/$b" ]] || { echo "bench: $build/$b not built (cmake --build $build --target modgate modgate_loadmod modgate_mgbench)" >&2; exit 1; }
done
# The guest's clock counts instructions (1 ns each, idle time skipped: scripts/vm/run-vm --icount),
# so what it times does not move with the host's load; MODGATE_BENCH_ICOUNT= (empty) times in
# real time instead.
icount=${MODGATE_BENCH_ICOUNT-0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/bench"
printf 'ATTEMPTS=%s\nREPS=%s\nIDLE=%s\n' "$attempts" "$reps" "$idle" >"$out/bench/params"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo "host: $(nproc) CPUs ($cpu), kernel $(uname -r), $(qemu-system-x86_64 --version | head -n1) TCG"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
log=$out/$kernel.log
"$here/scripts/vm/run-guest-test" --kernel "$kernel" --script "$here/bench/vm/deny_storm.sh" \
	--log "$log" --module dummy,crc7 --bin "$build/agent/modgate" --bin "$build/tests/vm/loadmod" \
	--bin "$build/bench/mgbench" --file "$here/tests/vm/scenarios/lib.sh:/scenarios/lib.sh" \
	--file "$out/bench:/bench" ${icount:+--icount "$icount"} --timeout $((smoke ? 600 : 7200)) >/dev/null ||
	{ keep=$(mktemp /tmp/bench-console.XXXXXX); cp "$log" "$keep"; tail -n 60 "$log" >&2; echo "bench: the guest failed; console kept in $keep" >&2; exit 1; }
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
tr -d '\r' <"$log" | grep -E '^guest:|^R |^BENCH-DONE' >"$out/raw"
grep -q '^BENCH-DONE' "$out/raw" || { echo "bench: no BENCH-DONE in the console" >&2; exit 1; }
[[ -n "${MODGATE_BENCH_RAW:-}" ]] && cp "$out/raw" "$MODGATE_BENCH_RAW"
sed -n '/^guest:/p' "$out/raw"
echo "$reps repetitions, medians; $attempts attempts per storm"

# val KIND FIELD: the values of FIELD over the R lines of KIND; med: their median.
val() { awk -v k="$1" -v f="$2" '$2 == k { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$out/raw"; }
med() { val "$1" "$2" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

hz=$(val idle hz)
echo
echo "Idle, $(calc "$(val idle secs)" 1) s (the agent's utime + stime, which the scheduler counts exactly):"
echo
# shellcheck disable=SC2016 # the backquotes are Markdown
echo '| agent CPU (s) | agent / wall | VmRSS (KiB) | VmHWM (KiB) | `modgate version` peak RSS (KiB) | VmRSS / that |'
echo '|---:|---:|---:|---:|---:|---:|'
at=$(val idle agent_ticks) rss=$(val idle rss_kib) vrss=$(val version maxrss_kib)
echo "| $(calc "$at / $hz") | $(calc "$at / $hz / $(val idle secs)" 4) | $rss | $(val idle hwm_kib) | $vrss | $(calc "$rss / $vrss") |"

echo
echo "Storm of $attempts denied loads (CPU seconds, median of $reps):"
echo
echo '| | storm wall (s) | loader CPU (s) | agent CPU in storm (s) | agent CPU finishing (s) | guest busy (s) | agent / loader, same storm | agent / loader with the agent stopped |'
echo '|---|---:|---:|---:|---:|---:|---:|---:|'
lw=$(med storm_agent wall) lu=$(med storm_agent user) ls=$(med storm_agent sys)
a1=$(med storm_agent agent_ticks_storm) a2=$(med storm_agent agent_ticks_drain) g=$(med storm_agent guest_busy_ticks)
nw=$(med storm_noagent wall) nu=$(med storm_noagent user) ns=$(med storm_noagent sys) ng=$(med storm_noagent guest_busy_ticks)
echo "| agent running | $(calc "$lw") | $(calc "$lu + $ls") | $(calc "$a1 / $hz") | $(calc "$a2 / $hz") | $(calc "$g / $hz") | $(calc "($a1 + $a2) / $hz / ($lu + $ls)") | $(calc "($a1 + $a2) / $hz / ($nu + $ns)") |"
echo "| agent stopped (baseline) | $(calc "$nw") | $(calc "$nu + $ns") | – | – | $(calc "$ng / $hz") | | |"
echo "| ratio running / stopped | $(calc "$lw / $nw") | $(calc "($lu + $ls) / ($nu + $ns)") | | | $(calc "$g / $ng") | | |"

echo
echo "Every denial written or counted (each storm). With the agent stopped, the records the ring buffer kept"
echo "are written by the next agent when it starts; the rest are counted in events_lost:"
echo
echo '| rep | agent | attempts denied (EPERM) | kernel deny counter | deny events written | events_lost (status) | written + lost | events_lost lines in the file | agent VmRSS after (KiB) | VmHWM (KiB) |'
echo '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|'
bad=0
for ((r = 0; r < reps; r++)); do
	for kind in storm_agent noagent_counts; do
		line=$(grep "^R $kind rep=$r " "$out/raw" || true)
		f() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
		[[ -n "$line" ]] || { echo "bench: no $kind line for rep $r" >&2; bad=1; continue; }
		sum=$(($(f lines_deny) + $(f events_lost)))
		if [[ "$kind" == storm_agent ]]; then
			denied=$(f eperm)
			echo "| $r | running | $denied | $(f kernel_deny) | $(f lines_deny) | $(f events_lost) | $sum | $(f lines_lost) | $(f rss_kib) | $(f hwm_kib) |"
		else
			denied=$(grep "^R storm_noagent rep=$r " "$out/raw" | tr ' ' '\n' | sed -n 's/^eperm=//p')
			echo "| $r | stopped | $denied | $(f kernel_deny) | $(f lines_deny) | $(f events_lost) | $sum | – | | |"
		fi
		[[ "$denied" == "$attempts" && "$(f kernel_deny)" == "$attempts" && "$sum" == "$attempts" ]] || bad=1
	done
done
if ((bad)); then
	echo "bench: a storm's denials, the kernel's count and the events written + lost do not all equal $attempts" >&2
	exit 1
fi
