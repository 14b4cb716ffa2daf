#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: `modgate policy init` over a whole Debian module tree against the plain hashing
# pipeline `find DIR -name '*.ko' -print0 | xargs -0 -P$(nproc) sha256sum` on the same tree, in
# the same run.
#
#   bench/policy_init_vs_sha256sum.sh [BUILD_DIR] [RUNS] [SUITE...]     (SUITE: bookworm, trixie)
#
# Defaults: ./build, 5 runs, bookworm then trixie. On a compressed tree (6.12's .ko.xz) it also
# times `xz -dc` of every file in one process, and compares policy init with that time divided by
# nproc plus the pipeline: what decompressing on every core and hashing would take. The trees come from scripts/vm/fetch-kernel
# (the packages the VM suite boots). The pipeline matches the tree's one file suffix ('*.ko' on
# 6.1, '*.ko.xz' on 6.12); policy init does more for the same files: it also parses .modinfo and
# the signature and, for compressed files, decompresses each one and hashes the payload too.
#
# The page cache is warmed and each command runs once untimed first, so both read from memory;
# the two commands then alternate (which one goes first alternates too, so neither always runs
# right after the other's cache traffic) and the median wall time of RUNS is reported. Peak memory
# is GNU time's maximum RSS: for policy init that is the whole process; for the pipeline it is
# its largest single process (the kernel reports the largest descendant, not a sum), with nproc
# sha256sum processes running at once. Every run is checked: policy init must succeed, and every
# digest the pipeline prints must be in the generated policy.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
runs=${2:-5}
shift $(($# < 2 ? $# : 2))
suites=("$@")
((${#suites[@]})) || suites=(bookworm trixie)
modgate=$build/agent/modgate
[[ -x "$modgate" ]] || { echo "bench: $modgate not built (cmake --build $build)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time not found (Debian package time), run scripts/setup" >&2; exit 1; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench: RUNS must be a positive integer, got '$runs'" >&2; exit 2; }
# shellcheck disable=SC2034 # common.sh's messages name the calling script
prog=bench
# shellcheck source=../scripts/vm/common.sh
source "$here/scripts/vm/common.sh"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
jobs=$(nproc)

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timed NAME CMD...: runs CMD under GNU time; appends "wall_seconds max_rss_kib cpu_seconds" to
# $out/NAME (CPU: user + system, of the command and every child it waited for).
# Wall time from the clock around it: GNU time's %e has only 10 ms resolution.
timed() {
	local name=$1
	shift
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f '%M %U %S' -o "$out/$name.rss" "$@"
	t1=$(date +%s%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(tail -n1 "$out/$name.rss" | awk '{ printf "%s %.2f", $1, $2 + $3 }')" >>"$out/$name"
}

run_init() { timed init "$modgate" policy init --from "$tree" -o "$out/policy.yaml" 2>"$out/init.err"; }
run_pipe() {
	# The tree path holds no quote; -P$(nproc) as the comparison is stated.
	timed pipe sh -c "find '$tree' -name '$pattern' -print0 | xargs -0 -P$jobs sha256sum >'$out/sums'"
}
# Compressed trees: the decompression alone, on one core (its time / nproc is what a perfect
# spread of it over every core would take).
run_xz() { timed xz sh -c "find '$tree' -name '$pattern' -print0 | xargs -0 xz -dc >/dev/null"; }

# Every digest the pipeline printed is in the policy; the counts agree.
verify() {
	local nfiles nsums missing
	nfiles=$(find "$tree" -name "$pattern" | wc -l)
	nsums=$(wc -l <"$out/sums")
	((nsums == nfiles)) || { echo "bench: the pipeline hashed $nsums of $nfiles files" >&2; exit 1; }
	grep -q "^modgate policy init: $nfiles module files," "$out/init.err" ||
		{ echo "bench: policy init did not report $nfiles module files:" >&2; cat "$out/init.err" >&2; exit 1; }
	missing=$(awk 'NR == FNR { if ($1 == "sha256:") { gsub("\"", "", $2); have[$2] = 1 }; next }
		!($1 in have) { n++ } END { print n + 0 }' "$out/policy.yaml" "$out/sums")
	((missing == 0)) || { echo "bench: $missing digests of the pipeline are not in the policy" >&2; exit 1; }
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo "machine: $jobs CPUs ($cpu), kernel $(uname -r), $(sha256sum --version | head -n1), modgate $build"
echo "runs: $runs per command, median; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
rows=()
xrows=()
for suite in "${suites[@]}"; do
	vm_kernel "$suite"
	tree=$VM_KMODDIR
	[[ -n "$tree" ]] || { echo "bench: no module tree in $VM_KDIR" >&2; exit 1; }
	# The tree's dominant module suffix: what a sha256sum of "the modules" would be run on.
	suffix=$(find "$tree" -name '*.ko*' | sed -n 's/.*\(\.ko[.a-z]*\)$/\1/p' | sort | uniq -c |
		sort -rn | awk 'NR == 1 { print $2 }')
	pattern="*$suffix"
	nfiles=$(find "$tree" -name "$pattern" | wc -l)
	mib=$(find "$tree" -name "$pattern" -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s / 1048576 }')
	find "$tree" -name "$pattern" -print0 | xargs -0 cat >/dev/null
	compressed=0
	[[ "$pattern" == *.xz ]] && compressed=1
	: >"$out/init"
	: >"$out/pipe"
	: >"$out/xz"
	run_init
	run_pipe
	((compressed)) && run_xz
	verify
	: >"$out/init"
	: >"$out/pipe"
	: >"$out/xz"
	for ((i = 0; i < runs; i++)); do
		if ((i % 2)); then
			run_pipe
			run_init
		else
			run_init
			run_pipe
		fi
		((compressed)) && run_xz
		verify
	done
	ti=$(cut -d' ' -f1 "$out/init" | median)
	tp=$(cut -d' ' -f1 "$out/pipe" | median)
	ri=$(cut -d' ' -f2 "$out/init" | sort -n | tail -n1)
	rp=$(cut -d' ' -f2 "$out/pipe" | sort -n | tail -n1)
	echo "$VM_KREL ($pattern) wall seconds, init: $(cut -d' ' -f1 "$out/init" | tr '\n' ' ')pipeline: $(cut -d' ' -f1 "$out/pipe" | tr '\n' ' ')"
	if ((compressed)); then
		tx=$(cut -d' ' -f1 "$out/xz" | median)
		ci=$(cut -d' ' -f3 "$out/init" | median)
		cx=$(cut -d' ' -f3 "$out/xz" | median)
		echo "$VM_KREL xz -dc of every file, one process, wall seconds: $(cut -d' ' -f1 "$out/xz" | tr '\n' ' ')"
		echo "$VM_KREL CPU seconds, init: $(cut -d' ' -f3 "$out/init" | tr '\n' ' ')xz -dc: $(cut -d' ' -f3 "$out/xz" | tr '\n' ' ')"
		bound=$(awk -v x="$tx" -v j="$jobs" -v p="$tp" 'BEGIN { print x / j + p }')
		# shellcheck disable=SC2016 # the backquotes are Markdown
		xrows+=("$(printf '| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |' "$VM_KREL" "$ti" "$tx" "$tp" "$bound" \
			"$(awk -v a="$ti" -v b="$bound" 'BEGIN { print a / b }')" "$ci" "$cx" \
			"$(awk -v a="$ci" -v b="$cx" 'BEGIN { print a / b }')")")
	fi
	# shellcheck disable=SC2016 # the backquotes are Markdown
	rows+=("$(printf '| %s | %s `%s`, %s MiB | %.2f | %.2f | %.2f | %.1f | %.1f |' \
		"$VM_KREL" "$nfiles" "$pattern" "$mib" "$ti" "$tp" \
		"$(awk -v a="$ti" -v b="$tp" 'BEGIN { print a / b }')" \
		"$(awk -v k="$ri" 'BEGIN { print k / 1024 }')" "$(awk -v k="$rp" 'BEGIN { print k / 1024 }')")")
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo '| tree | files | policy init (s) | pipeline (s) | ratio init / pipeline | init peak RSS (MiB) | pipeline peak RSS, largest process (MiB) |'
echo '|---|---|---:|---:|---:|---:|---:|'
printf '%s\n' "${rows[@]}"
if ((${#xrows[@]})); then
	echo
	echo "| tree | policy init (s) | \`xz -dc\`, one process (s) | pipeline (s) | xz / $jobs + pipeline (s) | ratio init / that | init CPU (s) | xz CPU (s) | CPU init / xz |"
	echo '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
	printf '%s\n' "${xrows[@]}"
fi
