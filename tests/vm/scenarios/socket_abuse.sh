# SPDX-License-Identifier: Apache-2.0
# The control socket under abuse by root (the only user it serves): garbage, wrong shapes, an
# oversized request, a client that stalls. Each gets an error or a hang-up, the agent keeps
# serving, and the policy in force does not move.
. /scenarios/lib.sh
S=/run/modgate/modgate.sock
minix=$(modfile minix)
flag=
is_compressed "$minix" && flag=--compressed
write_policy /tmp/policy.yaml enforce "" dummy
start_agent /tmp/policy.yaml
digest=$(status_field digest)
poke() { # EXPECTED_SUBSTRING ARGS...
	want=$1
	shift
	out=$(sockpoke "$S" "$@") || fail "sockpoke could not connect"
	case "$out" in *"$want"*) pass "$(echo "$*" | cut -c1-40) -> $out" ;; *) fail "for '$*' expected '$want', got '$out'" ;; esac
}
poke '"ok":false' 'not json at all
'
poke 'not a JSON object' '[1,2,3]
'
poke 'unknown command' '{"cmd":"shutdown"}
'
poke 'unknown field' '{"cmd":"status","as_root":true}
'
poke '"file\" must be' '{"cmd":"apply","content":"version: 9"}
'
poke 'no complete line' '{"cmd":"status"}'
poke 'invalid' '{"cmd":"apply","file":"x.yaml","content":"\u0000\u0001binary"}
'
# 8 MiB without a newline: the agent reads it, finds no request, and answers.
poke 'no complete line' --repeat 8388608 x
# A stalled client is dropped after the agent's 5 s timeout and blocks nobody meanwhile: other
# requests are answered at once, and the event stream keeps flowing.
sockpoke "$S" --stall 7 >/tmp/stall.out &
stall=$!
sleep 1
timeout 3 "$MODGATE" status >/dev/null || fail "status not answered while a client stalls"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
expect_event 1 '"verdict":"deny"' '"name":"minix"'
pass "answered and reported while a client stalls"
wait "$stall"
pass "stalled client: $(cat /tmp/stall.out)"
kill -0 "$AGENT_PID" || fail "agent died"
[ "$(status_field digest)" = "$digest" ] || fail "policy changed"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
expect_event 2 '"verdict":"deny"' '"name":"minix"'
stop_agent
