#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the BPF SHA-256 (bpf/lib/sha256.h) on every kernel of the VM matrix, against scalar
# OpenSSL in the same boot and against the first kernel's figure in the same run, so that a newer
# verifier or JIT that makes the hash slower shows up. Debian's real kernels under QEMU TCG.
#
#   bench/vm_sha256.sh [BUILD_DIR] [REPS] [KERNEL...]
#   bench/vm_sha256.sh --smoke [BUILD_DIR] [REPS] [KERNEL...]   (1 sample of 64 KiB on bookworm)
#
# Defaults: ./build, 5 samples per size (medians), every kernel of scripts/vm/kernels in the
# file's order (bookworm, 6.1, first: the reference). MODGATE_BENCH_SHA_SIZES sets the sizes
# (default 64K,1M; byte counts with an optional K or M suffix) and MODGATE_BENCH_SHA_SAMPLE the
# bytes one sample hashes (default 2M); the host's own run (docs/performance.md) uses 4K to 64M
# and 16M, which TCG makes far too slow. About 15 s per kernel on the 2-core host.
# Needs the bpf_sha256_bench target (BUILD_TESTING), which goes into the guest with its libraries.
#
# One boot per kernel (bench/vm/sha256.sh in the guest) runs `bpf_sha256_bench --raw`: the BPF
# hash as a BPF_PROG_TYPE_SYSCALL program through test_run (6.1 has both it and bpf_loop), and
# OpenSSL's SHA-256 held to its integer code (OPENSSL_ia32cap mask), on the same bytes, digests
# compared. Reported per kernel and size: both MB/s in the guest's instruction time, BPF / scalar,
# and each as a ratio to the reference kernel's; per kernel: bpf_jit_enable, bpf_jit_harden and
# what bpf_prog_info says of the program (verifier's processed instructions, program length, JIT
# image size). Exits non-zero if a kernel's run fails or any digest differs (between BPF and
# OpenSSL, or between kernels).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prog=vm_sha256
# shellcheck source=SCRIPTDIR/../scripts/vm/common.sh
source "$here/scripts/vm/common.sh"
smoke=0
if [[ "${1:-}" == --smoke ]]; then
	smoke=1
	shift
fi
build=${1:-$here/build}
reps=${2:-$((smoke ? 1 : 5))}
shift $(($# < 2 ? $# : 2))
kernels=("$@")
if ((${#kernels[@]} == 0)); then
	if ((smoke)); then kernels=(bookworm); else mapfile -t kernels < <(vm_pin_keys); fi
fi
sizes=${MODGATE_BENCH_SHA_SIZES:-64K,1M}
sample=${MODGATE_BENCH_SHA_SAMPLE:-2M}
((smoke)) && { sizes=64K; sample=64K; }
[[ "$sizes" =~ ^[1-9][0-9]*[KM]?(,[1-9][0-9]*[KM]?)*$ ]] ||
	{ echo "bench: MODGATE_BENCH_SHA_SIZES must be byte counts like 64K,1M (suffix K or M), got '$sizes'" >&2; exit 2; }
[[ "$sample" =~ ^[1-9][0-9]*[KM]?$ ]] ||
	{ echo "bench: MODGATE_BENCH_SHA_SAMPLE must be a byte count like 2M, got '$sample'" >&2; exit 2; }
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "bench: REPS must be a positive integer, got '$reps'" >&2; exit 2; }
for k in "${kernels[@]}"; do
	vm_pin "$k" || { echo "bench: '$k' is not a kernel of $vm_pins ($(vm_pin_keys | paste -sd ' '))" >&2; exit 2; }
done
bench=$build/bench/bpf_sha256_bench
[[ -x "$bench" ]] || { echo "bench: $bench not built (cmake --build $build --target bpf_sha256_bench)" >&2; exit 1; }
# The guest's clock counts instructions (1 ns each, idle time skipped: scripts/vm/run-vm --icount),
# so what it times does not move with the host's load; MODGATE_BENCH_ICOUNT= (empty) times in
# real time instead.
icount=${MODGATE_BENCH_ICOUNT-0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/bench"
printf 'SIZES=%s\nREPS=%s\nSAMPLE=%s\n' "$sizes" "$reps" "$sample" >"$out/bench/params"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo "host: $(nproc) CPUs ($cpu), kernel $(uname -r), $(qemu-system-x86_64 --version | head -n1) TCG"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
echo "kernels: ${kernels[*]}; sizes $sizes, $reps samples of at least $sample each per size"
failed=()
t_all=$SECONDS
for k in "${kernels[@]}"; do
	log=$out/$k.log
	t0=$SECONDS
	if "$here/scripts/vm/run-guest-test" --kernel "$k" --script "$here/bench/vm/sha256.sh" --log "$log" \
		--bin "$bench" --file "$out/bench:/bench" ${icount:+--icount "$icount"} \
		--timeout $((smoke ? 300 : 1800)) >/dev/null; then
		tr -d '\r' <"$log" | grep -E '^guest:|^R |^BENCH-DONE' >"$out/$k.raw"
	else
		: >"$out/$k.raw"
	fi
	if ! grep -q '^BENCH-DONE' "$out/$k.raw"; then
		keep=$(mktemp /tmp/bench-console.XXXXXX)
		cp "$log" "$keep"
		tail -n 40 "$log" >&2
		echo "bench: the guest failed on $k; console kept in $keep" >&2
		failed+=("$k")
		continue
	fi
	echo "$k: $(sed -n 's/^guest: //p' "$out/$k.raw"); quiet after $(sed -n 's/^R quiet waited_s=\([0-9]*\).*/\1/p' "$out/$k.raw") s; $((SECONDS - t0)) s"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - t_all)) s for ${#kernels[@]} boots"
if [[ -n "${MODGATE_BENCH_RAW:-}" ]]; then
	for k in "${kernels[@]}"; do sed "s/^/$k /" "$out/$k.raw"; done >"$MODGATE_BENCH_RAW"
fi

# get KERNEL WHAT FIELD [SIZE]: FIELD of the kernel's "R WHAT" line (of its size=SIZE line).
get() {
	awk -v w="$2" -v f="$3" -v s="${4:-}" '
		$1 != "R" { next }
		s != "" { if ($2 != "size=" s) next }
		s == "" { if ($2 != w) next }
		{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) { print kv[2]; exit } } }' "$out/$1.raw"
}
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
ok=()
for k in "${kernels[@]}"; do [[ -s "$out/$k.raw" ]] && grep -q '^BENCH-DONE' "$out/$k.raw" && ok+=("$k"); done
ref=${kernels[0]}
[[ " ${ok[*]} " == *" $ref "* ]] || ref=
mapfile -t bytes < <(tr ',' '\n' <<<"$sizes" | awk '/K$/ { $0 = $0 * 1024 } /M$/ { $0 = $0 * 1048576 } { print $0 + 0 }' | sort -n | uniq)
name() { awk -v n="$1" 'BEGIN { if (n % 1048576 == 0) print n / 1048576 " MiB"; else if (n % 1024 == 0) print n / 1024 " KiB"; else print n " B" }'; }

bad=0
echo
echo "Median of $reps samples per size, MB/s = 10^6 bytes per second of instruction time${ref:+; reference kernel: $ref}"
echo
echo "| kernel | release | size | BPF MB/s | scalar OpenSSL MB/s | BPF / scalar | BPF / ${ref:-reference}'s BPF | scalar / ${ref:-reference}'s scalar |"
echo '|---|---|---:|---:|---:|---:|---:|---:|'
for k in "${ok[@]}"; do
	for n in "${bytes[@]}"; do
		b=$(get "$k" "" bpf_mbps "$n") s=$(get "$k" "" scalar_mbps "$n")
		if [[ -z "$b" || -z "$s" ]]; then
			echo "bench: no size=$n line for $k" >&2
			bad=1
			continue
		fi
		if [[ "$(get "$k" "" match "$n")" != 1 ]]; then
			echo "bench: digests differ on $k at $(name "$n")" >&2
			bad=1
		fi
		if [[ -n "$ref" && "$(get "$k" "" digest "$n")" != "$(get "$ref" "" digest "$n")" ]]; then
			echo "bench: $k's digest at $(name "$n") differs from $ref's" >&2
			bad=1
		fi
		vb=– vs=–
		if [[ -n "$ref" ]]; then
			vb=$(calc "$b / $(get "$ref" "" bpf_mbps "$n")" 3) vs=$(calc "$s / $(get "$ref" "" scalar_mbps "$n")" 3)
		fi
		echo "| $k | $(get "$k" kernel release) | $(name "$n") | $(calc "$b" 1) | $(calc "$s" 1) | $(calc "$b / $s") | $vb | $vs |"
	done
done
echo
echo '| kernel | bpf_jit_enable | bpf_jit_harden | verifier: processed insns | program insns | JIT image (bytes) |'
echo '|---|---:|---:|---:|---:|---:|'
for k in "${ok[@]}"; do
	echo "| $k | $(get "$k" kernel jit_enable) | $(get "$k" kernel jit_harden) | $(get "$k" prog verified_insns) | $(get "$k" prog xlated_insns) | $(get "$k" prog jited_bytes) |"
done
if ((${#failed[@]})); then
	echo "bench: no figures from ${failed[*]} (the run failed)" >&2
	bad=1
fi
exit "$bad"
