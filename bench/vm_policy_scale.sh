#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: allowlists of 1 k, 10 k and 100 k hashes in Debian's real kernel under QEMU TCG.
#
#   bench/vm_policy_scale.sh [BUILD_DIR] [REPS] [KERNEL] [SIZES]
#   bench/vm_policy_scale.sh --smoke [BUILD_DIR]      (1 rep, sizes "0 100": checks the bench runs)
#
# Defaults: ./build, 3 repetitions (medians reported), bookworm, sizes "0 1000 10000 100000"; the
# guest gets 1536 MiB of RAM (MODGATE_BENCH_VM_MIB to change it).
# Needs the modgate, modgate_loadmod and modgate_mgbench targets and Debian's bpftool on the host
# (it is copied into the guest with its libraries).
#
# The host writes one policy per size: `version: 1`, `mode: enforce`, and N entries with random
# SHA-256 values; the guest appends the entries of the real `dummy` module to each (so a load
# proves the policy is in force) and runs bench/vm/policy_scale.sh, which measures in one boot:
#   - baselines: `sha256sum FILE` and `modgate policy check -q FILE` of each file;
#   - `modgate run --policy FILE` from its start to its "ready" line, on a clean slate;
#   - `modgate apply FILE` round trips against one running agent (each size replacing the last),
#     with the agent's resident memory after each;
#   - the policy map as `bpftool map show` reports it (max_entries, memlock);
#   - the kernel's part of an apply, from the sys_enter_bpf/sys_exit_bpf tracepoints of the agent:
#     map creation, the fill, the freeze and the swap itself (the one outer-slot update);
#   - that denied loads keep being decided while a policy is swapped: a storm of crc7 loads runs
#     through applies of the largest size up to 10 k and of the smallest, and the gaps between
#     decisions inside each apply (its round trip, and its kernel side from the trace) are compared
#     with those of the quiet stretches in between.
# The host also times `modgate policy check` of each file natively, before the boot, to show what
# the emulation costs. Figures are printed as Markdown tables with the ratios against the baselines
# of the same run.
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
sizes=${4:-0 1000 10000 100000}
((smoke)) && { reps=1; sizes="0 100"; }
# Guest RAM: with yaml-cpp's node tree, parsing took the agent about 32 bytes per byte of YAML
# (the streaming parser 5 to 7, docs/performance.md); the 100 k file is 9.4 MiB, and the
# guest also holds the files in its tmpfs. Kept at 1536 so that runs before and after compare.
memory=${MODGATE_BENCH_VM_MIB:-$((smoke ? 512 : 1536))}
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "bench: REPS must be a positive integer, got '$reps'" >&2; exit 2; }
for b in agent/modgate tests/vm/loadmod bench/mgbench; do
	[[ -x "$build/$b" ]] || { echo "bench: $build/$b not built (cmake --build $build --target modgate modgate_loadmod modgate_mgbench)" >&2; exit 1; }
done
bpftool=$(command -v bpftool || true)
[[ -n "$bpftool" ]] || { echo "bench: bpftool not found (Debian package bpftool)" >&2; exit 1; }
# The guest's clock counts instructions (1 ns each, idle time skipped: scripts/vm/run-vm --icount),
# so what it times does not move with the host's load; MODGATE_BENCH_ICOUNT= (empty) times in
# real time instead.
icount=${MODGATE_BENCH_ICOUNT-0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

mkdir -p "$out/bench"
for n in $sizes; do
	[[ "$n" =~ ^[0-9]+$ ]] || { echo "bench: sizes must be whole numbers, got '$n'" >&2; exit 2; }
	{
		echo "version: 1"
		echo "mode: enforce"
		echo "modules:"
		head -c $((32 * n)) /dev/urandom | od -An -v -tx1 | tr -d ' \n' | fold -w64 |
			awk '{ printf "  - name: synth%06d\n    sha256: %s\n", NR, $0 }'
	} >"$out/bench/p_$n.yaml"
done
printf 'SIZES="%s"\nREPS=%s\n' "$sizes" "$reps" >"$out/bench/params"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo "host: $(nproc) CPUs ($cpu), kernel $(uname -r), $(qemu-system-x86_64 --version | head -n1) TCG"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
# The same parse on the host, natively, for scale: what the emulation costs. One fixed entry
# stands for the guest's dummy (an enforce policy may not be empty).
: >"$out/native"
for n in $sizes; do
	{ cat "$out/bench/p_$n.yaml"; printf '  - name: dummy\n    sha256: %064d\n' 1; } >"$out/native.yaml"
	for ((r = 0; r < reps; r++)); do
		"$build/bench/mgbench" time "$out/native.$n" "$build/agent/modgate" policy check -q "$out/native.yaml"
	done
	awk -v n="$n" '{ print "R native n=" n " rep=" NR - 1 " " $0 }' "$out/native.$n" >>"$out/native"
done
log=$out/$kernel.log
"$here/scripts/vm/run-guest-test" --kernel "$kernel" --script "$here/bench/vm/policy_scale.sh" \
	--log "$log" --module dummy,crc7 --bin "$build/agent/modgate" --bin "$build/tests/vm/loadmod" \
	--bin "$build/bench/mgbench" --bin "$bpftool:/usr/bin/bpftool" \
	--file "$here/tests/vm/scenarios/lib.sh:/scenarios/lib.sh" --file "$out/bench:/bench" \
	--memory "$memory" ${icount:+--icount "$icount"} --timeout $((smoke ? 600 : 7200)) >/dev/null || { keep=$(mktemp /tmp/bench-console.XXXXXX); cp "$log" "$keep"; tail -n 60 "$log" >&2; echo "bench: the guest failed; console kept in $keep" >&2; exit 1; }
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
tr -d '\r' <"$log" >"$out/console"
grep -q '^BENCH-DONE' "$out/console" || { echo "bench: no BENCH-DONE in the console" >&2; exit 1; }
{ cat "$out/native"; grep -E '^guest:|^R ' "$out/console"; } >"$out/raw"
[[ -n "${MODGATE_BENCH_RAW:-}" ]] && cp "$out/raw" "$MODGATE_BENCH_RAW"
sed -n '/^guest:/p' "$out/raw"
echo
echo "kernel $(grep -o 'kernel [^ ]*$' "$out/raw" | head -n1 | cut -d' ' -f2); $reps repetitions, medians"

# med KIND N FIELD: median of FIELD over the R lines of KIND for size N.
med() {
	awk -v k="$1" -v n="n=$2" -v f="$3" '$2 == k && $3 == n { for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$out/raw" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# pr KIND_A FIELD_A KIND_B FIELD_B N [N_B]: the median over repetitions of A(N) / B(N_B), each
# pair from the same repetition (measured back to back), so a change in the host's load between
# repetitions does not land in the ratio.
pr() {
	awk -v ka="$1" -v fa="$2" -v kb="$3" -v fb="$4" -v n="n=$5" -v nb="n=${6:-$5}" '
		function get(f, i, kv) { for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) return kv[2] } }
		$2 == ka && $3 == n { a[$4] = get(fa) }
		$2 == kb && $3 == nb { b[$4] = get(fb) }
		END { for (r in a) if ((r in b) && b[r] > 0) print a[r] / b[r] }' "$out/raw" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; else print "n/a" }'
}
first() { awk -v k="$1" -v n="n=$2" -v f="$3" '$2 == k && $3 == n { for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) { print kv[2]; exit } } }' "$out/raw"; }
fmt() { awk -v v="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b > 0) printf "%.*f", d, a / b; else print "n/a" }'; }
base=${sizes%% *}

echo
echo "Load time (seconds, median): sha256sum and \`modgate policy check\` of the file, \`modgate run\` from start"
echo "to ready, \`modgate apply\` round trip; ratios are medians of per-repetition ratios. The baseline apply is"
echo "one of the $base-hash policy against the same agent just before."
echo
echo '| synthetic hashes | file (MiB) | sha256sum | policy check | run → ready | apply | run → ready / check | apply / check | run → ready / same at '"$base"' | apply / apply of '"$base"' | policy check on the host, native | guest check / native |'
echo '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
for n in $sizes; do
	echo "| $n | $(fmt "$(awk -v b="$(first file "$n" bytes)" 'BEGIN { print b / 1048576 }')" 2) | $(fmt "$(med sha256sum "$n" wall)" 3) | $(fmt "$(med check "$n" wall)" 3) | $(fmt "$(med startup "$n" wall)" 2) | $(fmt "$(med apply "$n" wall)" 3) | $(pr startup wall check wall "$n") | $(pr apply wall check wall "$n") | $(pr startup wall startup wall "$n" "$base") | $(pr apply wall apply0 wall "$n") | $(fmt "$(med native "$n" wall)" 3) | $(pr check wall native wall "$n") |"
done

echo
echo "Kernel side of one apply, from the bpf() tracepoints (microseconds, median); the baseline is the traced"
echo "apply of the $base-hash policy just before:"
echo
echo '| synthetic hashes | records | map create | fill, wall | fill, in bpf() | freeze | swap (outer update) | create → swap | swap / baseline swap | create → swap / baseline |'
echo '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
for n in $sizes; do
	echo "| $n | $(first swap "$n" updates) | $(fmt "$(med swap "$n" create_us)" 0) | $(fmt "$(med swap "$n" fill_wall_us)" 0) | $(fmt "$(med swap "$n" fill_kernel_us)" 0) | $(fmt "$(med swap "$n" freeze_us)" 0) | $(fmt "$(med swap "$n" swap_us)" 0) | $(fmt "$(med swap "$n" create_to_swap_us)" 0) | $(pr swap swap_us swap0 swap_us "$n") | $(pr swap create_to_swap_us swap0 create_to_swap_us "$n") |"
done

echo
echo "Memory: the policy map as bpftool shows it once the agent is ready, and the agent (KiB, median):"
echo
echo '| synthetic hashes | max_entries | memlock (B) | memlock / entry (B) | memlock / (entries × 96 B of key+value) | agent VmRSS after ready | agent VmHWM after ready | agent VmRSS after the apply | VmRSS after ready / same at '"$base"' |'
echo '|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
for n in $sizes; do
	e=$(first mapmem "$n" max_entries) m=$(first mapmem "$n" memlock)
	echo "| $n | $e | $m | $(ratio "$m" "$e" 0) | $(ratio "$m" "$((e * 96))") | $(med startup "$n" rss_kib) | $(med startup "$n" hwm_kib) | $(med apply "$n" rss_kib) | $(pr startup rss_kib startup rss_kib "$n" "$base") |"
done

echo
echo "Loads decided during swaps (denied crc7 loads in a loop; gaps between consecutive decisions):"
echo
grep "^R storm" "$out/raw" | sed "s/^R storm /    storm: /"
read -r _ _ qn qmed qp99 qmax < <(grep '^R quiet_gaps' "$out/raw" | tr '=' ' ' | awk '{ print $1, $2, $4, $6, $8, $10 }')
qrate=$(grep '^R quiet_rate' "$out/raw" | sed 's/.*rate_per_s=//')
echo
echo "Quiet stretches: $qn gaps, $qrate decisions/s, median gap $qmed ms, p99 $qp99 ms, max $qmax ms."
echo
echo '| apply of | round trip (s) | loads decided in it | decisions/s | / quiet rate | longest gap (ms) | / quiet max gap | kernel side (ms) | loads decided in it | longest gap overlapping it (ms) |'
echo '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
grep '^R window' "$out/raw" | while read -r line; do
	f() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
	echo "| $(f n) | $(f secs) | $(f decided) | $(f rate_per_s) | $(ratio "$(f rate_per_s)" "$qrate") | $(f max_gap_ms) | $(ratio "$(f max_gap_ms)" "$qmax") | $(f kernel_ms) | $(f kernel_decided) | $(f kernel_max_gap_ms) |"
done
