# SPDX-License-Identifier: Apache-2.0
# Guest half of bench/vm_deny_storm.sh (read that first). POSIX sh, run by dash in the VM.
# /bench/params sets ATTEMPTS, REPS and IDLE. Every figure goes to the console as one
# "R <what> key=value..." line; the host turns them into the tables.
# shellcheck disable=SC1091,SC2046,SC2086 # guest paths; word splitting of key=value lists is wanted
. /scenarios/lib.sh
. /bench/params
MB=$(command -v mgbench)

out() { echo "R $*"; }
# Busy and total clock ticks of the whole guest, from /proc/stat's first line.
sys_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print "busy=" (t - $5 - $6) " total=" t; exit }' /proc/stat; }
# The kernel's deny decisions over all hooks and the ring-buffer losses, from the agent's status.
# Only "counters" (per hook): "decisions_by_kind", which follows it, counts the same decisions again.
kernel_counts() {
	"$MODGATE" status --json | awk '/"counters"/ { c = 1 } /"decisions_by_kind"/ { c = 0 }
		c && /"deny":/ { gsub(/[^0-9]/, "", $2); d += $2 }
		/"events_lost":/ { c = 0; gsub(/[^0-9]/, "", $2); l = $2 } END { print "kernel_deny=" d " events_lost=" l }'
}
# What the agent wrote: deny lines, and the sum of its events_lost lines.
written() {
	awk '/"verdict":"deny"/ { d++ } /"event":"events_lost"/ { match($0, /"count":[0-9]+/); l += substr($0, RSTART + 8, RLENGTH - 8) }
		END { print "lines_deny=" d + 0 " lines_lost=" l + 0 }' "$EVENTS"
}
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# Waits until the agent has written everything the kernel handed it: the file stops growing.
settle() {
	prev=-1
	i=0
	while :; do
		cur=$(wc -l <"$EVENTS")
		[ "$cur" -eq "$prev" ] && break
		prev=$cur
		i=$((i + 1))
		[ "$i" -lt 300 ] || fail "events file still growing after 300 s"
		sleep 1
	done
}

crc7=$(modfile crc7)
flag=
is_compressed "$crc7" && flag=--compressed
echo "guest: $(nproc) CPU, $(sed -n 's/^MemTotal: *//p' /proc/meminfo), kernel $(uname -r)"
write_policy /tmp/policy.yaml enforce "" dummy

# Baseline for memory: the same binary doing nearly nothing.
"$MB" time /tmp/t.version "$MODGATE" version >/dev/null || fail "modgate version"
out version $(cat /tmp/t.version)

# 1. Idle: one minute of nothing with the agent running (after 5 s for its start to settle).
start_agent /tmp/policy.yaml
sleep 5
p0=$("$MB" proc "$AGENT_PID")
s0=$(sys_ticks)
t0=$("$MB" now)
sleep "$IDLE"
t1=$("$MB" now)
s1=$(sys_ticks)
p1=$("$MB" proc "$AGENT_PID")
out idle secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
	agent_ticks=$(($(field cpu_ticks "$p1") - $(field cpu_ticks "$p0"))) \
	guest_busy_ticks=$(($(field busy "$s1") - $(field busy "$s0"))) \
	guest_total_ticks=$(($(field total "$s1") - $(field total "$s0"))) \
	rss_before_kib="$(field rss_kib "$p0")" $p1

# 2. Storms: ATTEMPTS denied finit_module calls of crc7 (unlisted) from one process, with the agent
# running, then the same with the agent stopped (its pinned programs still deny and count; the
# ring buffer fills and the rest are counted as lost). Alternated REPS times. The agent started
# after a stopped storm drains what the ring buffer kept: with the kernel's counters from before
# the storm, that accounts for the stopped storm too.
# restarted REP: starts an agent on the pinned programs and reports the previous stopped storm.
restarted() {
	start_agent
	settle
	k0=$(kernel_counts)
	w0=$(written)
	out noagent_counts rep="$1" kernel_deny=$(($(field kernel_deny "$k0") - $(field kernel_deny "$k1"))) \
		events_lost=$(($(field events_lost "$k0") - $(field events_lost "$k1"))) \
		lines_deny="$(field lines_deny "$w0")"
}
r=0
while [ "$r" -lt "$REPS" ]; do
	if [ "$r" -gt 0 ]; then
		restarted $((r - 1))
	else
		settle
		k0=$(kernel_counts)
		w0=$(written)
	fi
	p0=$("$MB" proc "$AGENT_PID")
	s0=$(sys_ticks)
	"$MB" storm "$crc7" "$ATTEMPTS" $flag >/tmp/storm.out || fail "storm: $(cat /tmp/storm.out)"
	s1=$(sys_ticks)
	p1=$("$MB" proc "$AGENT_PID")
	settle
	p2=$("$MB" proc "$AGENT_PID")
	k1=$(kernel_counts)
	w1=$(written)
	out storm_agent rep="$r" $(sed 's/^storm //' /tmp/storm.out) \
		agent_ticks_storm=$(($(field cpu_ticks "$p1") - $(field cpu_ticks "$p0"))) \
		agent_ticks_drain=$(($(field cpu_ticks "$p2") - $(field cpu_ticks "$p1"))) \
		guest_busy_ticks=$(($(field busy "$s1") - $(field busy "$s0"))) \
		kernel_deny=$(($(field kernel_deny "$k1") - $(field kernel_deny "$k0"))) \
		events_lost=$(($(field events_lost "$k1") - $(field events_lost "$k0"))) \
		lines_deny=$(($(field lines_deny "$w1") - $(field lines_deny "$w0"))) \
		lines_lost=$(($(field lines_lost "$w1") - $(field lines_lost "$w0"))) \
		rss_kib="$(field rss_kib "$p2")" hwm_kib="$(field hwm_kib "$p2")"
	kill_agent
	s0=$(sys_ticks)
	"$MB" storm "$crc7" "$ATTEMPTS" $flag >/tmp/storm.out || fail "storm without agent: $(cat /tmp/storm.out)"
	s1=$(sys_ticks)
	out storm_noagent rep="$r" $(sed 's/^storm //' /tmp/storm.out) \
		guest_busy_ticks=$(($(field busy "$s1") - $(field busy "$s0")))
	r=$((r + 1))
done
restarted $((r - 1))
stop_agent
echo "BENCH-DONE"
