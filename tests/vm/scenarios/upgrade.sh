# SPDX-License-Identifier: Apache-2.0
# Upgrading the agent to a new BPF object leaves no instant without enforcement: the new agent
# carries the policy over, attaches its own programs, then retires the old pins. An unlisted module
# is tried in a tight loop throughout and must never load; a listed one must always load.
. /scenarios/lib.sh
NEXT=$(command -v modgate_next)
dummy=$(modfile dummy)
minix=$(modfile minix)
flag=
is_compressed "$minix" && flag=--compressed
write_policy /tmp/policy.yaml enforce "" dummy
start_agent /tmp/policy.yaml
old_tag=$(status_field object)
digest=$(status_field digest)
rm -f /tmp/stop /tmp/bad
(
	n=0
	while [ ! -e /tmp/stop ]; do
		"$LOADMOD" finit "$minix" $flag >/dev/null
		rc=$?
		[ $rc -eq $EPERM ] || { echo "unlisted try $n: $rc" >>/tmp/bad; "$LOADMOD" delete minix; }
		"$LOADMOD" finit "$dummy" $flag >/dev/null || echo "listed load $n failed" >>/tmp/bad
		"$LOADMOD" delete dummy >/dev/null
		n=$((n + 1))
	done
	echo $n >/tmp/count
) &
loop=$!
sleep 1
kill_agent TERM
# The new binary, no --policy: it must take over the policy the old programs enforce.
MODGATE=$NEXT start_agent ""
grep -q "programs attached and pinned" "$AGENT_ERR" || fail "new agent did not load its object: $(cat "$AGENT_ERR")"
grep -q "replacing /sys/fs/bpf/modgate/$old_tag" "$AGENT_ERR" || fail "new agent does not say what it replaced"
sleep 1
touch /tmp/stop
wait "$loop"
[ ! -s /tmp/bad ] || fail "wrong verdicts during the upgrade: $(head /tmp/bad)"
[ "$(cat /tmp/count)" -ge 5 ] || fail "loop too short: $(cat /tmp/count)"
new_tag=$(status_field object)
[ "$new_tag" != "$old_tag" ] || fail "object tag unchanged ($new_tag)"
[ "$(status_field digest)" = "$digest" ] || fail "policy not carried over"
[ "$(ls /sys/fs/bpf/modgate)" = "$new_tag" ] || fail "pins left: $(ls /sys/fs/bpf/modgate)"
pass "upgraded $old_tag -> $new_tag with the policy kept; $(cat /tmp/count) rounds, 0 wrong verdicts"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
stop_agent
