# SPDX-License-Identifier: Apache-2.0
# The operations tamper.sh shows refused, without protection: they do what the kernel normally
# does, and together they switch modgate off. Part 1, protect: false (enforce): no tamper events;
# an attacker's allowlist swapped in, or an fmod_ret program, lets an unlisted module in; removing
# the pins and killing the agent ends enforcement. Part 2, protect: true in dry-run: the same
# operations succeed and each is reported as a would-deny tamper event.
. /scenarios/lib.sh
minix=$(modfile minix)
flag=
is_compressed "$minix" && flag=--compressed

write_policy /tmp/v1.yaml enforce "" dummy
start_agent /tmp/v1.yaml
dir=$(pin_tag_dir)
links=$(link_ids)
inner_id=$(map_id mg_policy)
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag

# Links of LSM programs cannot be detached at all: the kernel's answer, not modgate's.
l=$(echo "$links" | head -n1)
expect_refused "Operation not supported" "bpftool link detach id $l" "$BPFTOOL" link detach id "$l"
# The allowlist in force is frozen: not even root writes it, protection or not.
# shellcheck disable=SC2046
expect_refused "Operation not permitted" "bpftool map update of the frozen allowlist" \
	"$BPFTOOL" map update id "$inner_id" key $(hex_bytes "$(sha_of "$minix")") value $(hex_bytes "$(printf '%0128d' 0)")
# ... but the slot that holds it is not: an attacker's allowlist goes in and minix with it.
make_evil_allowlist "$(sha_of "$minix")"
expect_done "bpftool map update of the policy slot" \
	"$BPFTOOL" map update pinned "$dir/policy" key 0 0 0 0 value pinned /sys/fs/bpf/evil
expect_errno 0 "$LOADMOD" finit "$minix" $flag
rmmod minix
pass "the attacker's allowlist let minix in"
sed 's/^version: 1$/version: 2/' /tmp/v1.yaml >/tmp/v2.yaml
# The attacker wrote version 999 in its config; rolling back to our own takes --force.
"$MODGATE" apply --force /tmp/v2.yaml >/dev/null || fail "cannot restore the policy"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag

# An fmod_ret program on security_kernel_post_read_file returning the file's size: modgate's
# program never runs and finit_module loads the file. An uncompressed file, because 7.x takes any
# non-zero return of the compressed load's payload call as an error (kernel/module/main.c), so
# there the trick only works on the plain finit_module path; on 6.x both paths are one read.
plain=$(plain_ko minix)
expect_errno $EPERM "$LOADMOD" finit "$plain"
start_intruder || fail "intruder refused without protection: $(cat /tmp/intruder.out)"
expect_errno 0 "$LOADMOD" finit "$plain"
rmmod minix
kill "$INTRUDER_PID"
wait "$INTRUDER_PID"
pass "the fmod_ret intruder let minix in"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag

before=$(cat /proc/sys/kernel/modprobe)
expect_done "writing /proc/sys/kernel/modprobe" sh -c "echo '$before' >/proc/sys/kernel/modprobe"
expect_done "opening /proc/PID/mem of the agent" dd if="/proc/$AGENT_PID/mem" of=/dev/null bs=1 count=0
lib=$(agent_library)
expect_done "opening the agent's $lib for writing" sh -c ": >>'$lib'"
expect_done "rm of a link pin" rm -f "$dir/link_post_read_file"
expect_done "umount of the bpffs" umount /sys/fs/bpf
# ftrace: 0 turns every ftrace call site into a NOP, BPF trampolines included, so modgate's
# programs stop running until it is 1 again (tamper.sh: refused under protection). Where the
# kernel itself refuses the write (7.3 answers EIO), enforcement must simply go on.
if out=$(sh -c 'echo 0 >/proc/sys/kernel/ftrace_enabled' 2>&1); then
	expect_errno 0 "$LOADMOD" finit "$minix" $flag
	rmmod minix
	# Not silent: the agent polls the sysctl (every 2 s) and says so everywhere it reports.
	expect_event 1 '"event":"ftrace_disabled"'
	"$MODGATE" status | grep -q '^programs *NOT RUNNING: kernel.ftrace_enabled is 0' ||
		fail "status does not say the programs are not running: $("$MODGATE" status | head -n 8)"
	"$MODGATE" status --prometheus | grep -q '^modgate_ftrace_enabled 0$' || fail "no modgate_ftrace_enabled 0"
	grep -q 'kernel.ftrace_enabled is 0' "$AGENT_ERR" || fail "stderr does not say ftrace_enabled is 0"
	expect_done "writing 1 to /proc/sys/kernel/ftrace_enabled" sh -c 'echo 1 >/proc/sys/kernel/ftrace_enabled'
	expect_event 1 '"event":"ftrace_enabled"'
	pass "with ftrace off the unlisted minix loaded, and the agent said so"
else
	[ "$(cat /proc/sys/kernel/ftrace_enabled)" = 1 ] || fail "ftrace_enabled is not 1 after a refused write"
	expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
	pass "this kernel refuses ftrace_enabled=0 by itself ($out); minix still denied"
fi
[ -e /dev/mem ] || mknod /dev/mem c 1 1
expect_done "reading /dev/mem" dd if=/dev/mem of=/dev/null bs=1 count=1
# The agent's own links still hold the programs; its death releases them.
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
# SIGKILL queued through a pipe the agent was made the owner of: no kill(), so no task_kill.
# prlimit: without protection root may starve or end the agent through its resource limits.
expect_done "prlimit of the agent's nofile" "$LOADMOD" prlimit "$AGENT_PID" nofile 1024
expect_done "SIGKILL to the agent through SIGIO" "$LOADMOD" sigio "$AGENT_PID" 9
wait "$AGENT_PID"
AGENT_PID=
i=0
until "$LOADMOD" finit "$minix" $flag 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || fail "minix still denied after the pins and the agent are gone"
	sleep 0.2
done
rmmod minix
pass "modgate switched off by root: pins removed, bpffs unmounted, agent killed"
n=$(match_events '"event":"tamper"')
[ "$n" -eq 0 ] || fail "$n tamper events without protection"
pass "no tamper events with protect: false"

# Part 2: protect: true in dry-run reports, and refuses nothing.
write_policy /tmp/d1.yaml dry-run "protect: true" dummy
start_agent /tmp/d1.yaml
dir=$(pin_tag_dir)
l=$("$BPFTOOL" link show | sed -n 's/^\([0-9]*\): .*/\1/p' | head -n1)
expect_refused "Operation not supported" "bpftool link detach id $l" "$BPFTOOL" link detach id "$l"
expect_tamper would-deny bpf-link-fd
expect_done "prlimit of the agent's nofile" "$LOADMOD" prlimit "$AGENT_PID" nofile 1024
expect_tamper would-deny rlimit '"resource":"nofile"'
start_intruder || fail "intruder refused in dry-run: $(cat /tmp/intruder.out)"
kill "$INTRUDER_PID"
wait "$INTRUDER_PID"
expect_tamper would-deny bpf-prog-load
expect_done "writing /proc/sys/kernel/modprobe" sh -c "echo '$before' >/proc/sys/kernel/modprobe"
expect_tamper would-deny modprobe-path-write
expect_done "reading /dev/mem" dd if=/dev/mem of=/dev/null bs=1 count=1
expect_tamper would-deny lockdown '"lockdown_reason":"dev_mem"'
# Only the open is judged: what the kernel then makes of the write does not matter here.
sh -c 'echo 1 >/proc/sys/kernel/ftrace_enabled' 2>/dev/null
expect_tamper would-deny ftrace-write
expect_done "rm of a link pin" rm -f "$dir/link_post_read_file"
expect_tamper would-deny pin-unlink
expect_done "kill -9 of the agent" kill -9 "$AGENT_PID"
wait "$AGENT_PID"
AGENT_PID=
n=$(match_events '"event":"tamper"' '"verdict":"deny"')
[ "$n" -eq 0 ] || fail "$n tamper denials in dry-run"
# disarm works in dry-run: protection is not in force.
disarm_agent
pass "dry-run: reported, nothing refused"

# Part 3: protect: true from the agent's first start (recorded before the pins exist).
# Protection in force needs signed policies.
trust_setup
write_policy /tmp/e1.yaml enforce "protect: true" dummy
start_agent "$(signed /tmp/e1.yaml)"
dir=$(pin_tag_dir)
expect_refused "Operation not permitted" "rm of a link pin" rm -f "$dir/link_post_read_file"
expect_refused "Operation not permitted" "kill -9 of the agent" kill -9 "$AGENT_PID"
expect_refused "Operation not permitted" "umount of the bpffs" umount /sys/fs/bpf
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
# A second agent can neither start beside it nor take its objects over.
# shellcheck disable=SC2086
"$MODGATE" run --policy /tmp/e1.yaml.bundle $AGENT_ARGS >/tmp/second.out 2>&1 && fail "a second agent started"
pass "second agent refused: $(tail -n1 /tmp/second.out)"
expect_tamper deny pin-unlink
expect_tamper deny signal
# cgroup.kill signals without task_kill, so the agent can die; its death changes nothing: the
# pins stay protected and enforcing, and no new agent can take them over.
mkdir /sys/fs/cgroup/victim && echo "$AGENT_PID" >/sys/fs/cgroup/victim/cgroup.procs ||
	fail "cannot move the agent to a cgroup"
echo 1 >/sys/fs/cgroup/victim/cgroup.kill
wait "$AGENT_PID"
AGENT_PID=
pass "agent killed through cgroup.kill"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
expect_refused "Operation not permitted" "rm of a link pin after the agent's death" \
	rm -f "$dir/link_post_read_file"
# shellcheck disable=SC2086
"$MODGATE" run --policy /tmp/e1.yaml.bundle $AGENT_ARGS >/tmp/third.out 2>&1 && fail "a new agent adopted protected pins"
grep -q "tamper protection is on" /tmp/third.out || fail "new agent: $(cat /tmp/third.out)"
pass "new agent refused: $(tail -n1 /tmp/third.out)"
"$MODGATE" disarm >/tmp/disarm.out 2>&1 && fail "disarm without an agent removed protected pins"
grep -q "tamper protection is on" /tmp/disarm.out || fail "disarm: $(cat /tmp/disarm.out)"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
