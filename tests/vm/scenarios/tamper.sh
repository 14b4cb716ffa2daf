# SPDX-License-Identifier: Apache-2.0
# Tamper protection on (protect: true, enforce): every way root would switch modgate off fails
# with EPERM (EACCES where the kernel itself turns the refusal into one), is reported as a tamper
# event, and leaves enforcement intact; the agent keeps working; turning protection off or
# disarming through the agent is refused; and the same holds for an agent in a pid namespace of its
# own, as a pod without hostPID runs it. tamper_off.sh runs the same operations unprotected.
. /scenarios/lib.sh
minix=$(modfile minix)
dummy=$(modfile dummy)
flag=
is_compressed "$minix" && flag=--compressed
minix_img=$(plain_ko minix)

# Protection starts with a live apply, so the objects' ids can be listed while bpftool still may.
trust_setup
write_policy /tmp/v1.yaml enforce "" dummy
start_agent "$(signed /tmp/v1.yaml)"
dir=$(pin_tag_dir)
policy_id=$(map_id policy)
links=$(link_ids)
prog_id=$("$BPFTOOL" link show | sed -n 's/.* prog \([0-9]*\).*/\1/p' | head -n1)
[ -n "$policy_id" ] && [ -n "$links" ] || fail "cannot list modgate's objects"
make_evil_allowlist "$(sha_of "$minix")"
evil_id=$(map_id evil)

sed 's/^version: 1$/version: 2/' /tmp/v1.yaml | sed '2a protect: true' >/tmp/v2.yaml
"$MODGATE" apply "$(signed /tmp/v2.yaml)" >/tmp/apply.out 2>&1 || fail "apply of protect: true failed: $(cat /tmp/apply.out)"
[ "$(status_field protect)" = true ] || fail "status does not say protect: true"
pass "protection on (policy version 2)"

# bpf(): links, maps and programs by id or by pin; the allowlist swapped or edited.
for l in $links; do
	expect_refused "Operation not permitted" "bpftool link detach id $l" "$BPFTOOL" link detach id "$l"
done
expect_tamper deny bpf-link-fd
expect_refused "Operation not permitted" "bpftool link detach pinned" \
	"$BPFTOOL" link detach pinned "$dir/link_post_read_file"
expect_tamper deny pin-open
# shellcheck disable=SC2046
expect_refused "Operation not permitted" "bpftool map update of the policy slot (by id)" \
	"$BPFTOOL" map update id "$policy_id" key 0 0 0 0 value id "$evil_id"
expect_tamper deny bpf-map-fd '"name":"policy"'
expect_refused "Operation not permitted" "bpftool map update of the policy slot (pinned)" \
	"$BPFTOOL" map update pinned "$dir/policy" key 0 0 0 0 value pinned /sys/fs/bpf/evil
# The allowlist in force: bpftool can no longer name it (a listing stops at the first refused
# map), but each refusal reports the map's id and name.
"$BPFTOOL" map show >/tmp/mapshow.out 2>&1
grep -q "Operation not permitted" /tmp/mapshow.out || fail "bpftool map show listed modgate's maps"
for i in $(seq 1 64); do "$BPFTOOL" map show id "$i" >/dev/null 2>&1; done
expect_tamper deny bpf-map-fd '"name":"mg_policy"'
inner_id=$(sed -n 's/.*"operation":"bpf-map-fd","object_id":\([0-9]*\),"name":"mg_policy".*/\1/p' "$EVENTS" | tail -n1)
# shellcheck disable=SC2046
expect_refused "Operation not permitted" "bpftool map update of the allowlist" \
	"$BPFTOOL" map update id "$inner_id" key $(hex_bytes "$(sha_of "$minix")") value $(hex_bytes "$(printf '%0128d' 0)")
expect_tamper deny bpf-map-fd '"name":"mg_policy"'
expect_refused "Operation not permitted" "bpftool prog show id $prog_id" "$BPFTOOL" prog show id "$prog_id"
expect_tamper deny bpf-prog-fd
# An fmod_ret program that would let every module past the LSMs cannot even be loaded.
"$INTRUDER" >/tmp/intruder.out 2>&1
rc=$?
[ "$rc" -eq "$EPERM" ] || fail "intruder: exit $rc, expected EPERM: $(cat /tmp/intruder.out)"
pass "fmod_ret intruder refused: $(tail -n1 /tmp/intruder.out)"
expect_tamper deny bpf-prog-load '"prog_type":"tracing"'

# bpffs: the pins and their directories cannot be removed, moved or unmounted.
expect_refused "Operation not permitted" "rm of a link pin" rm -f "$dir/link_post_read_file"
expect_tamper deny pin-unlink '"name":"link_post_read_file"'
expect_refused "Operation not permitted" "rm -rf of the pin directory" rm -rf /sys/fs/bpf/modgate
expect_refused "Operation not permitted" "mv of a pin" mv -f "$dir/policy" /sys/fs/bpf/moved
expect_tamper deny pin-rename
"$BPFTOOL" map pin pinned /sys/fs/bpf/evil /sys/fs/bpf/decoy || fail "cannot pin a decoy"
expect_refused "Operation not permitted" "rename of another pin over a pin" \
	mv -f /sys/fs/bpf/decoy "$dir/policy"
expect_refused "Operation not permitted" "rmdir of the pin directory" rmdir "$dir"
expect_tamper deny pin-rmdir
expect_refused "Operation not permitted" "umount of the bpffs" umount /sys/fs/bpf
expect_refused "Operation not permitted" "lazy umount of the bpffs" umount -l /sys/fs/bpf
expect_refused "Operation not permitted" "lazy umount of /sys above it" umount -l /sys
expect_tamper deny umount '"fstype":"bpf"'
expect_tamper deny umount '"fstype":"sysfs"'
ls "$dir/link_post_read_file" "$dir/policy" >/dev/null || fail "pins gone"

# The agent: no signal but SIGHUP (and 0) reaches it, nothing attaches to it or writes its code.
expect_refused "Operation not permitted" "kill -9 of the agent" kill -9 "$AGENT_PID"
expect_refused "Operation not permitted" "kill -TERM of the agent" kill -TERM "$AGENT_PID"
expect_refused "Operation not permitted" "busybox kill -STOP of the agent" busybox kill -STOP "$AGENT_PID"
expect_tamper deny signal '"signal":9' "\"target_pid\":$AGENT_PID"
kill -0 "$AGENT_PID" || fail "the agent is gone"
# Signals queued through an fd's owner (F_SETOWN, O_ASYNC) pass no task_kill; the write itself
# succeeds, the signal never arrives. F_SETSIG 9, and 0 (plain SIGIO, which also ends a process).
expect_done "SIGKILL to the agent through SIGIO" "$LOADMOD" sigio "$AGENT_PID" 9
expect_tamper deny sigio '"signal":9' "\"target_pid\":$AGENT_PID"
expect_done "SIGIO to the agent" "$LOADMOD" sigio "$AGENT_PID" 0
expect_tamper deny sigio '"signal":0' "\"target_pid\":$AGENT_PID"
kill -0 "$AGENT_PID" || fail "the agent died of a signal sent through SIGIO"
pass "the agent survived SIGKILL and SIGIO through an fd's owner"
# prlimit on the agent: a low nofile starves its socket and files; fsize, cpu and as end it with a
# signal that passes no task_kill.
expect_refused "Operation not permitted" "prlimit of the agent's nofile" \
	"$LOADMOD" prlimit "$AGENT_PID" nofile 4
expect_tamper deny rlimit '"resource":"nofile"' "\"target_pid\":$AGENT_PID"
expect_refused "Operation not permitted" "prlimit of the agent's cpu" "$LOADMOD" prlimit "$AGENT_PID" cpu 1
expect_refused "Operation not permitted" "prlimit of the agent's fsize" "$LOADMOD" prlimit "$AGENT_PID" fsize 0
"$MODGATE" status >/dev/null || fail "the agent does not answer after the prlimit attempts"
expect_refused "Permission denied" "opening /proc/PID/mem of the agent" \
	dd if="/proc/$AGENT_PID/mem" of=/dev/null bs=1 count=0
expect_tamper deny ptrace "\"target_pid\":$AGENT_PID"
lib=$(agent_library)
[ -n "$lib" ] || fail "the agent maps no shared library"
expect_refused "Operation not permitted" "writing the agent's $lib" sh -c ": >>'$lib'"
expect_tamper deny agent-file-write
expect_done "reading the agent's $lib" cat "$lib"

# The kernel's usermode helper path for autoload.
before=$(cat /proc/sys/kernel/modprobe)
expect_refused "Operation not permitted" "writing /proc/sys/kernel/modprobe" \
	sh -c 'echo /tmp/evil >/proc/sys/kernel/modprobe'
expect_tamper deny modprobe-path-write '"name":"kernel/modprobe"'
[ "$(cat /proc/sys/kernel/modprobe)" = "$before" ] || fail "modprobe path changed"
# kernel.ftrace_enabled=0 would turn modgate's trampolines into NOPs (tamper_off.sh shows it).
expect_refused "Operation not permitted" "writing 0 to /proc/sys/kernel/ftrace_enabled" \
	sh -c 'echo 0 >/proc/sys/kernel/ftrace_enabled'
expect_tamper deny ftrace-write '"name":"kernel/ftrace_enabled"'
[ "$(cat /proc/sys/kernel/ftrace_enabled)" = 1 ] || fail "ftrace_enabled changed"
# Lockdown's integrity reasons: writing kernel memory without a module. /dev/mem is asked at open
# (LOCKDOWN_DEV_MEM), for reading too.
[ -e /dev/mem ] || mknod /dev/mem c 1 1
expect_refused "Operation not permitted" "opening /dev/mem" dd if=/dev/mem of=/dev/null bs=1 count=1
expect_tamper deny lockdown '"lockdown_reason":"dev_mem"'
mkdir -p /tmp/proc2 && mount -t proc proc /tmp/proc2
expect_refused "Operation not permitted" "writing modprobe through a second procfs mount" \
	sh -c 'echo /tmp/evil >/tmp/proc2/sys/kernel/modprobe'
expect_refused "Operation not permitted" "writing ftrace_enabled through a second procfs mount" \
	sh -c 'echo 0 >/tmp/proc2/sys/kernel/ftrace_enabled'
umount /tmp/proc2

# Enforcement intact: the unlisted module is still denied on both paths, the listed one loads.
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
expect_errno $EPERM "$LOADMOD" init "$minix_img"
loaded minix && fail "minix loaded"
expect_errno 0 "$LOADMOD" finit "$dummy" $flag
rmmod dummy

# The agent still manages its objects under protection, and refuses to give protection up.
sed 's/^version: 2$/version: 3/' /tmp/v2.yaml >/tmp/v3.yaml
"$MODGATE" apply "$(signed /tmp/v3.yaml)" >/tmp/apply3.out 2>&1 || fail "apply of v3 (protected) failed: $(cat /tmp/apply3.out)"
[ "$(status_field version)" = 3 ] || fail "v3 not in force"
pass "protected agent applied version 3"
# protect: false unsigned, signed by a stranger, or forced: all refused.
sed 's/^version: 1$/version: 4/' /tmp/v1.yaml >/tmp/v4.yaml
"$MODGATE" apply /tmp/v4.yaml >/tmp/apply4.out 2>&1 && fail "unsigned protect: false applied: $(cat /tmp/apply4.out)"
grep -q "not a signed bundle" /tmp/apply4.out || fail "refusal does not say why: $(cat /tmp/apply4.out)"
"$MODGATE" keygen -o /tmp/stranger >/dev/null || fail "keygen failed"
"$MODGATE" apply "$(signed /tmp/v4.yaml /tmp/stranger.private.pem)" >/tmp/apply4.out 2>&1 &&
	fail "protect: false signed by an untrusted key applied: $(cat /tmp/apply4.out)"
grep -q "not in the trust store" /tmp/apply4.out || fail "stranger refusal: $(cat /tmp/apply4.out)"
"$MODGATE" apply --force /tmp/v4.yaml.bundle >/tmp/apply4.out 2>&1 && fail "--force switched protection off"
sed 's/^mode: enforce$/mode: dry-run/' /tmp/v3.yaml | sed 's/^version: 3$/version: 5/' >/tmp/v5.yaml
"$MODGATE" apply /tmp/v5.yaml >/tmp/apply5.out 2>&1 && fail "unsigned dry-run applied under protection"
"$MODGATE" disarm >/tmp/disarm.out 2>&1 && fail "disarm succeeded under protection"
grep -q "disarm refused: tamper protection is on" /tmp/disarm.out || fail "disarm: $(cat /tmp/disarm.out)"
pass "unsigned, untrusted and forced protect: false, dry-run and disarm refused: $(cat /tmp/disarm.out)"
[ "$(status_field version)" = 3 ] || fail "policy in force changed"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag

"$MODGATE" status --json >/tmp/status.json
grep -q '"signal": [1-9]' /tmp/status.json || fail "status counts no signal attempts: $(cat /tmp/status.json)"
grep -q '"pin-unlink": [1-9]' /tmp/status.json || fail "status counts no unlink attempts"
grep -q '"sigio": [1-9]' /tmp/status.json || fail "status counts no sigio attempts"
grep -q '"rlimit": [1-9]' /tmp/status.json || fail "status counts no rlimit attempts"
"$MODGATE" status --prometheus | grep -q '^modgate_tamper_attempts_total{operation="rlimit"} [1-9]' ||
	fail "the metrics count no rlimit attempts"
grep -q '"ftrace-write": [1-9]' /tmp/status.json || fail "status counts no ftrace-write attempts"
grep -q '"lockdown": [1-9]' /tmp/status.json || fail "status counts no lockdown attempts"
kill -0 "$AGENT_PID" || fail "agent died"
pass "protected: $(grep -c '"event":"tamper"' "$EVENTS") tamper events"

# The one way out short of a reboot: a newer policy with protect: false, signed by a trusted key.
sed 's/^version: 1$/version: 6/' /tmp/v1.yaml >/tmp/v6.yaml
"$MODGATE" apply "$(signed /tmp/v6.yaml)" >/tmp/apply6.out 2>&1 || fail "signed protect: false refused: $(cat /tmp/apply6.out)"
[ "$(status_field protect)" = false ] || fail "protection still on after the signed protect: false"
stop_agent
pass "signed protect: false ended protection; disarm then removed modgate"

# A pod without hostPID (deploy/kubernetes): the agent in a pid namespace of its own, where it is
# pid 1, while the hooks know it by its tgid in the initial namespace. Protection must record the
# latter: the agent keeps reaching its own objects, and nobody outside can signal it.
sed 's/^version: 1$/version: 7/' /tmp/v1.yaml | sed '2a protect: true' >/tmp/v7.yaml
: >"$EVENTS"
: >"$AGENT_ERR"
# shellcheck disable=SC2086 # AGENT_ARGS: extra options, word-split on purpose
unshare --pid --fork --mount-proc "$MODGATE" run --policy "$(signed /tmp/v7.yaml)" $AGENT_ARGS \
	--events "$EVENTS" 2>"$AGENT_ERR" &
POD_PID=$!
i=0
while ! grep -q ready "$AGENT_ERR" 2>/dev/null; do
	kill -0 "$POD_PID" 2>/dev/null || fail "the agent in a pid namespace exited: $(cat "$AGENT_ERR")"
	i=$((i + 1))
	[ "$i" -lt 600 ] || fail "the agent in a pid namespace not ready after 60 s"
	sleep 0.1
done
AGENT_PID=$(pidof modgate)
[ -n "$AGENT_PID" ] && [ "$AGENT_PID" != "$POD_PID" ] || fail "cannot tell the pod's agent: '$AGENT_PID'"
[ "$(status_field protect)" = true ] || fail "the pod's agent does not protect"
pass "agent in a pid namespace ready and protected (pid $AGENT_PID outside)"
expect_refused "Operation not permitted" "kill -9 of the agent in its pid namespace" kill -9 "$AGENT_PID"
expect_tamper deny signal '"signal":9' "\"target_pid\":$AGENT_PID"
sed 's/^version: 7$/version: 8/' /tmp/v7.yaml >/tmp/v8.yaml
"$MODGATE" apply "$(signed /tmp/v8.yaml)" >/tmp/apply8.out 2>&1 ||
	fail "the agent in a pid namespace cannot apply under its own protection: $(cat /tmp/apply8.out)"
[ "$(status_field version)" = 8 ] || fail "v8 not in force"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
pass "the pod's agent applied version 8 under protection; outsiders still refused"
sed 's/^version: 1$/version: 9/' /tmp/v1.yaml >/tmp/v9.yaml
"$MODGATE" apply "$(signed /tmp/v9.yaml)" >/tmp/apply9.out 2>&1 || fail "signed protect: false refused: $(cat /tmp/apply9.out)"
kill "$AGENT_PID"
wait "$POD_PID" || fail "the pod's agent exited with an error on SIGTERM"
AGENT_PID=
disarm_agent
