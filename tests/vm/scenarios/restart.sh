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

# disarm: the one way to stop enforcing.
"$MODGATE" disarm || fail "disarm failed"
wait "$AGENT_PID" || fail "agent exited non-zero after disarm"
AGENT_PID=
[ ! -e /sys/fs/bpf/modgate ] || fail "pins left after disarm"
expect_errno 0 "$LOADMOD" finit "$minix" $flag
pass "after disarm minix loads"
