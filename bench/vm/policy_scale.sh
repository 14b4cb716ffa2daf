# SPDX-License-Identifier: Apache-2.0
# Guest half of bench/vm_policy_scale.sh (read that first). POSIX sh, run by dash in the VM.
# /bench/params sets SIZES and REPS; /bench/p_N.yaml holds N random hashes. Every figure goes to
# the console as one "R <what> n=N rep=R key=value..." line; the host turns them into the tables.
# shellcheck disable=SC1091,SC2046,SC2086 # guest paths; word splitting of key=value lists is wanted
. /scenarios/lib.sh
. /bench/params
MB=$(command -v mgbench)
TRACE=/sys/kernel/tracing

out() { echo "R $*"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
# setver FILE VERSION OUT: FILE with its first line ("version: 1") replaced.
setver() { { echo "version: $2"; sed 1d "$1"; } >"$3"; }
# The newest policy map (the one in force once an apply returned): "max_entries=N memlock=B".
map_mem() {
	bpftool map show | awk '/ name mg_policy / { f = 1; next }
		f && /max_entries/ { for (i = 1; i < NF; i++) { if ($i == "max_entries") e = $(i + 1); if ($i == "memlock") m = $(i + 1) }; f = 0 }
		END { sub("B$", "", m); print "max_entries=" e " memlock=" m }'
}

# The bpf() syscalls of the agent, from their own tracepoints, on CLOCK_MONOTONIC (the clock of
# `mgbench now` and of the storm's log). The buffer must hold a 100 k apply: ~200 k records.
echo 0 >"$TRACE/tracing_on"
echo 0 >"$TRACE/options/overwrite"
echo mono >"$TRACE/trace_clock"
echo 32768 >"$TRACE/buffer_size_kb"
trace_agent() {
	for ev in sys_enter_bpf sys_exit_bpf; do
		echo "common_pid == $AGENT_PID" >"$TRACE/events/syscalls/$ev/filter"
		echo 1 >"$TRACE/events/syscalls/$ev/enable"
	done
}
# traced_apply N VERSION: applies p_N as VERSION under the trace; writes the kernel side to
# /tmp/traced: map creation, the fill, the freeze and the swap itself (the one update of the
# outer slot after the freeze), with k0/k1, the times of the creation's entry and the swap's return.
traced_apply() {
	setver "/tmp/p_$1.yaml" "$2" /tmp/next.yaml
	echo >"$TRACE/trace"
	echo 1 >"$TRACE/tracing_on"
	"$MODGATE" apply /tmp/next.yaml >/dev/null || fail "apply of $1 (traced)"
	echo 0 >"$TRACE/tracing_on"
	! grep -q '^overrun: [1-9]\|^dropped events: [1-9]' "$TRACE/per_cpu/cpu0/stats" ||
		fail "trace buffer overflowed: $(cat "$TRACE/per_cpu/cpu0/stats")"
	# Enter lines print "cmd: N" in hex without 0x, exit lines "-> 0x..."; cmds 0 create,
	# 2 update, 22 (0x16) freeze.
	res=$(awk '
		function ts() { for (i = 1; i <= NF; i++) if ($i ~ /^sys_bpf/) { t = $(i - 1); sub(":$", "", t); return t } }
		/sys_bpf\(cmd:/ { match($0, /cmd: [0-9a-f]+/); c = substr($0, RSTART + 5, RLENGTH - 5); cmd = 0
			for (i = 1; i <= length(c); i++) cmd = cmd * 16 + index("0123456789abcdef", substr(c, i, 1)) - 1
			t0 = ts(); next }
		/sys_bpf -> / { t1 = ts(); d = (t1 - t0) * 1e6
			if (cmd == 0) { create = d; c0 = t0; c1 = t1; upd = 0; usum = 0; frozen = 0 }
			else if (cmd == 2 && !frozen) { upd++; usum += d }
			else if (cmd == 22) { freeze = d; f0 = t0; frozen = 1 }
			else if (cmd == 2 && frozen) { swap = d; s1 = t1; frozen = 0; ok = 1 } }
		END { if (!ok) { print "none"; exit }
			printf "create_us=%.0f fill_wall_us=%.0f fill_kernel_us=%.0f updates=%d freeze_us=%.0f swap_us=%.0f create_to_swap_us=%.0f k0=%s k1=%s\n",
				create, (f0 - c1) * 1e6, usum, upd, freeze, swap, (s1 - c0) * 1e6, c0, s1 }' "$TRACE/trace")
	[ "$res" != none ] || fail "no swap in the trace of the apply of $1: $(grep -v "cmd: 1,\|^#" "$TRACE/trace" | head -n 80)"
	echo "$res" >/tmp/traced
}

crc7=$(modfile crc7)
flag=
is_compressed "$crc7" && flag=--compressed
# Each synthetic policy also lists dummy, so a load shows the big policy really is in force.
policy_modules dummy | sed 1d >/tmp/dummy.entries
for n in $SIZES; do
	cat "/bench/p_$n.yaml" /tmp/dummy.entries >"/tmp/p_$n.yaml"
	out file n="$n" bytes="$(wc -c <"/tmp/p_$n.yaml")"
done
echo "guest: $(nproc) CPU, $(sed -n 's/^MemTotal: *//p' /proc/meminfo), kernel $(uname -r)"
first=$(echo "$SIZES" | cut -d' ' -f1)

# 1. Per repetition and size, back to back so that the host's load is about the same for a figure
# and its baselines: sha256sum and `policy check` of the file; `modgate run` from its start to
# "ready" on a clean slate; then against that agent an apply of the smallest policy (the baseline
# apply) and one of p_N again (the measured one, replacing a small map as in a real update), the
# agent's memory once it has trimmed; and the same two applies under the trace.
r=0
while [ "$r" -lt "$REPS" ]; do
	for n in $SIZES; do
		"$MB" time /tmp/t "sha256sum" "/tmp/p_$n.yaml" >/dev/null || fail "sha256sum"
		out sha256sum n="$n" rep="$r" $(cat /tmp/t)
		rm /tmp/t
		"$MB" time /tmp/t "$MODGATE" policy check -q "/tmp/p_$n.yaml" || fail "policy check of $n"
		out check n="$n" rep="$r" $(cat /tmp/t)
		rm /tmp/t

		: >"$EVENTS"
		: >"$AGENT_ERR"
		t0=$("$MB" now)
		"$MODGATE" run --policy "/tmp/p_$n.yaml" --events "$EVENTS" 2>"$AGENT_ERR" &
		AGENT_PID=$!
		t1=$("$MB" wait-line "$AGENT_ERR" "modgate: ready:" "$AGENT_PID" 1800) ||
			fail "agent with $n synthetic entries not ready"
		out startup n="$n" rep="$r" wall="$(secs "$t0" "$t1")" $("$MB" proc "$AGENT_PID")
		if [ "$r" -eq 0 ]; then
			out mapmem n="$n" rep="$r" $(map_mem)
			# The policy in force decides: dummy is listed, crc7 is not.
			"$LOADMOD" finit "$(modfile dummy)" $flag >/dev/null || fail "dummy refused under $n"
			"$LOADMOD" delete dummy >/dev/null || fail "cannot unload dummy"
			"$LOADMOD" finit "$crc7" $flag >/dev/null
			[ $? -eq "$EPERM" ] || fail "crc7 not denied under $n"
			[ "$n" = "$first" ] && { echo "--- bpftool map show"; bpftool map show; }
		fi

		setver "/tmp/p_$first.yaml" 2 /tmp/next.yaml
		"$MB" time /tmp/t "$MODGATE" apply /tmp/next.yaml >/dev/null || fail "apply of $first"
		out apply0 n="$n" rep="$r" $(cat /tmp/t)
		rm /tmp/t
		setver "/tmp/p_$n.yaml" 3 /tmp/next.yaml
		"$MB" time /tmp/t "$MODGATE" apply /tmp/next.yaml >/dev/null || fail "apply of $n"
		# The agent trims its heap after it has replied; a status round trip comes after that.
		"$MODGATE" status >/dev/null || fail "status"
		out apply n="$n" rep="$r" $(cat /tmp/t) $("$MB" proc "$AGENT_PID")
		rm /tmp/t

		trace_agent
		traced_apply "$first" 4
		out swap0 n="$n" rep="$r" $(cat /tmp/traced)
		traced_apply "$n" 5
		out swap n="$n" rep="$r" $(cat /tmp/traced)
		stop_agent
	done
	r=$((r + 1))
done

# 2. No gap: denied loads of crc7 keep coming back decided while policies are swapped. The storm
# logs the return time of every attempt; the gaps inside each apply (the whole round trip, and its
# kernel side from the trace) are compared with the gaps of the quiet stretches around them. The
# largest size here is at most 10 k: the storm halves the agent's CPU, and under TCG a 100 k apply
# would then outlast the 120 s `modgate apply` waits for the agent's reply.
big=$(echo "$SIZES" | tr ' ' '\n' | awk '$1 <= 10000' | tail -n1)
start_agent "/tmp/p_$first.yaml"
trace_agent
v=2
"$MB" storm "$crc7" 0 $flag --log /tmp/storm.log >/tmp/storm.out &
storm=$!
sleep 3
: >/tmp/windows
r=0
while [ "$r" -lt "$REPS" ]; do
	for n in "$big" "$first"; do
		a0=$("$MB" now)
		traced_apply "$n" "$v"
		a1=$("$MB" now)
		v=$((v + 1))
		echo "$n $a0 $a1 $(tr ' ' '\n' </tmp/traced | sed -n 's/^k[01]=//p' | tr '\n' ' ')" >>/tmp/windows
		sleep 2
	done
	r=$((r + 1))
done
kill -TERM "$storm"
wait "$storm" || fail "a load during the swaps was not denied: $(cat /tmp/storm.out)"
out storm $(sed "s/^storm //" /tmp/storm.out)
for ev in sys_enter_bpf sys_exit_bpf; do echo 0 >"$TRACE/events/syscalls/$ev/enable"; done
echo 1408 >"$TRACE/buffer_size_kb"
# Per window (the apply's round trip a, and its kernel side k): attempts decided inside it and
# the longest wait between two decisions overlapping it. Quiet: every gap that overlaps no round
# trip, from 1 s into the storm (its start-up left out).
awk 'NR == FNR { n[NR] = $1; a[NR] = $2; b[NR] = $3; k0[NR] = $4; k1[NR] = $5; w = NR; next }
	FNR == 1 { start = $1 + 1 }
	{ t = $1
	  for (i = 1; i <= w; i++) { if (t >= a[i] && t <= b[i]) cnt[i]++; if (t >= k0[i] && t <= k1[i]) kcnt[i]++ }
	  if (prev != "") {
		inw = 0
		for (i = 1; i <= w; i++) {
			if (t > a[i] && prev < b[i]) { inw = 1; if (t - prev > wmax[i]) wmax[i] = t - prev }
			if (t > k0[i] && prev < k1[i] && t - prev > kmax[i]) kmax[i] = t - prev
		}
		if (!inw && prev >= start) { q++; qsum += t - prev; print (t - prev) * 1000 >"/tmp/quiet.gaps" }
	  }
	  prev = t }
	END {
		for (i = 1; i <= w; i++)
			printf "R window n=%s secs=%.3f decided=%d rate_per_s=%.1f max_gap_ms=%.2f kernel_ms=%.2f kernel_decided=%d kernel_max_gap_ms=%.2f\n",
				n[i], b[i] - a[i], cnt[i], cnt[i] / (b[i] - a[i]), wmax[i] * 1000, (k1[i] - k0[i]) * 1000, kcnt[i], kmax[i] * 1000
		printf "R quiet_rate gaps=%d secs=%.3f rate_per_s=%.1f\n", q, qsum, q / qsum }' /tmp/windows /tmp/storm.log
sort -n /tmp/quiet.gaps >/tmp/quiet.sorted
q=$(wc -l </tmp/quiet.sorted)
out quiet_gaps n="$q" median_ms="$(sed -n "$(((q + 1) / 2))p" /tmp/quiet.sorted)" \
	p99_ms="$(sed -n "$(((q * 99 + 99) / 100))p" /tmp/quiet.sorted)" max_ms="$(tail -n1 /tmp/quiet.sorted)"
stop_agent
echo "BENCH-DONE"
