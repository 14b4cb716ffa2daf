# SPDX-License-Identifier: Apache-2.0
# Restart without a gap: the pinned programs keep enforcing when the agent is killed (SIGKILL
# included), a new agent adopts them with the policy in force, and only disarm removes them.
. /scenarios/lib.sh
minix=$(modfile minix)
dummy=$(modfile dummy)
flag=
is_compressed "$minix" && flag=--compressed
write_policy /tmp/policy.yaml enforce "" dummy
start_agent /tmp/policy.yaml
digest=$("$MODGATE" status --json | sed -n 's/.*"digest": "\(.*\)".*/\1/p')

kill_agent KILL
pass "agent killed with SIGKILL"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
expect_errno 0 "$LOADMOD" finit "$dummy" $flag
rmmod dummy
pass "enforcement continued with no agent running"

# No --policy: the new agent adopts what the kernel enforces.
start_agent ""
grep -q "adopted the pinned programs" "$AGENT_ERR" || fail "agent did not adopt: $(cat "$AGENT_ERR")"
"$MODGATE" status --json >/tmp/status.json
grep -q '"adopted": true' /tmp/status.json || fail "status does not say adopted"
grep -q "\"digest\": \"$digest\"" /tmp/status.json || fail "adopted policy digest differs"
grep -q '"names_known": true' /tmp/status.json || fail "adopted agent cannot name modules"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
# Two: the denial made while no agent ran waited in the pinned ring buffer and is reported now.
expect_event 2 '"verdict":"deny"' '"name":"minix"'

# A graceful stop leaves enforcement too; the same policy file at restart is "already in force".
kill_agent TERM
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
start_agent /tmp/policy.yaml
grep -q "adopted the pinned programs" "$AGENT_ERR" || fail "agent did not adopt on restart"

# A second agent cannot start beside the first.
"$MODGATE" run --policy /tmp/policy.yaml >/tmp/second.out 2>&1 && fail "a second agent started"
grep -q "another modgate agent is running" /tmp/second.out || fail "second agent: $(cat /tmp/second.out)"
pass "second agent refused"

# disarm: the one way to stop enforcing. It says what it removed: the object's directory, its
# links (every one a program that is now detached) and its maps; a second one finds nothing.
links=$(ls "$(pin_tag_dir)" | grep -c '^link_')
"$MODGATE" disarm >/tmp/disarm.out 2>&1 || fail "disarm failed: $(cat /tmp/disarm.out)"
wait "$AGENT_PID" || fail "agent exited non-zero after disarm"
AGENT_PID=
[ ! -e /sys/fs/bpf/modgate ] || fail "pins left after disarm"
grep -q "^modgate disarm: the agent removed its pins and exited:$" /tmp/disarm.out &&
	grep -q "^  removed /sys/fs/bpf/modgate/[0-9a-f]*$" /tmp/disarm.out &&
	grep -q "^  $links links ($links programs detached), [1-9][0-9]* maps and other pins$" /tmp/disarm.out ||
	fail "disarm does not say what it removed ($links links): $(cat /tmp/disarm.out)"
"$MODGATE" disarm >/tmp/disarm2.out 2>&1 || fail "a second disarm failed: $(cat /tmp/disarm2.out)"
grep -q "no agent was running and nothing was pinned in" /tmp/disarm2.out &&
	! grep -q "removed" /tmp/disarm2.out ||
	fail "a second disarm claims to remove something: $(cat /tmp/disarm2.out)"
pass "disarm said: $(tr '\n' ' ' </tmp/disarm.out); then: $(tr '\n' ' ' </tmp/disarm2.out)"
[ "$(awk 'length > 80' /tmp/disarm.out /tmp/disarm2.out | wc -l)" -eq 0 ] ||
	fail "disarm prints lines wider than 80 columns"
expect_errno 0 "$LOADMOD" finit "$minix" $flag
pass "after disarm minix loads"
