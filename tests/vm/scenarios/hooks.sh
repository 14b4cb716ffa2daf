# SPDX-License-Identifier: Apache-2.0
# Response hooks and loaded_before_enforcement through the real agent on a real kernel
# (docs/hooks.md, docs/boot.md). Options come from a --config file, as the systemd unit gives them.
. /scenarios/lib.sh

# Loaded before the agent ever starts: dummy (which the policy lists) and nlmon (which it does not).
insmod "$(modfile dummy)" || fail "insmod dummy before enforcement"
insmod "$(modfile nlmon)" || fail "insmod nlmon before enforcement"
write_policy /tmp/policy.yaml enforce "" dummy

cat >/tmp/modgate.conf <<CONF
# hooks: each denied load's event is appended to a file; at most 3 starts, then rate-limited
on_deny = "cat >> /tmp/hook.out; echo \$MODGATE_HOOK >> /tmp/hook.env"
hook_rate = 0.001
hook_burst = 3
hook_max_running = 16
CONF
AGENT_ARGS="--config /tmp/modgate.conf"
start_agent /tmp/policy.yaml

# jnum JSON KEY: the number after the first "KEY": in a compact JSON text (status --json sorts keys).
jnum() { printf '%s' "$1" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" | head -n1; }
# on_deny_counters: "started=.. succeeded=.. ..." from modgate status.
on_deny_counters() {
	o=$("$MODGATE" status --json | tr -d ' \n' | grep -o '"on_deny":{[^}]*}')
	for k in started succeeded failed timed_out dropped_rate_limited dropped_busy; do
		printf '%s=%s ' "$k" "$(jnum "$o" "$k")"
	done
}

# --- loaded_before_enforcement: the event, status and audit
expect_event 1 '"event":"loaded_before_enforcement"' '"known":true' '"count":2' '"not_listed":1'
ev=$(grep '"event":"loaded_before_enforcement"' "$EVENTS")
echo "$ev" | grep -q '"name":"nlmon","file":"[^"]*nlmon[^"]*","sha256":"[0-9a-f]\{64\}","listed":false' ||
	fail "nlmon not reported as loaded before enforcement and not listed: $ev"
echo "$ev" | grep -q '"name":"dummy","file":"[^"]*","sha256":"[0-9a-f]\{64\}","listed":true' ||
	fail "dummy not reported as loaded before enforcement and listed: $ev"
pass "loaded_before_enforcement event: dummy listed, nlmon not listed"
st=$("$MODGATE" status --json | tr -d ' \n' | sed 's/.*"loaded_before_enforcement"://')
echo "$st" | grep -q '"known":true' && [ "$(jnum "$st" count)" = 2 ] &&
	[ "$(jnum "$st" not_listed)" = 1 ] && [ "$(jnum "$st" unchecked)" = 0 ] ||
	fail "status lacks loaded_before_enforcement: $st"
pass "status: loaded_before_enforcement count 2, not_listed 1"
"$MODGATE" audit --policy /tmp/policy.yaml --json >/tmp/audit.json
tr -d ' \n' </tmp/audit.json | grep -q '"loaded_before_enforcement":{"boot_id":"[^"]*","recorded_at"' ||
	fail "audit lacks loaded_before_enforcement: $(cat /tmp/audit.json)"
tr -d ' \n' </tmp/audit.json | grep -q '"subject":"nlmon","kind":"loaded-before-enforcement"' ||
	fail "audit lacks the loaded-before-enforcement finding for nlmon"
tr -d ' \n' </tmp/audit.json | grep -q '"subject":"dummy","kind":"loaded-before-enforcement"' &&
	fail "audit flags dummy, which the policy lists"
pass "audit: nlmon flagged as loaded before enforcement, dummy not"

# --- a denied load runs the hook with the event on stdin
f=$(modfile minix)
flag=
is_compressed "$f" && flag=--compressed
expect_errno $EPERM "$LOADMOD" finit "$f" $flag
expect_event 1 '"verdict":"deny"' '"name":"minix"'
i=0
while [ ! -s /tmp/hook.env ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(cat /tmp/hook.out)" = "$(grep '"verdict":"deny"' "$EVENTS")" ] ||
	fail "the hook got '$(cat /tmp/hook.out)', not the deny event line"
[ "$(cat /tmp/hook.env)" = on_deny ] || fail "MODGATE_HOOK was '$(cat /tmp/hook.env)'"
pass "on_deny hook received the deny event line: $(cut -c1-120 /tmp/hook.out)..."

# --- a flood: 30 more denials, 2 more hook runs (burst 3), 28 dropped and counted
n=0
while [ $n -lt 30 ]; do
	"$LOADMOD" finit "$f" $flag >/dev/null
	n=$((n + 1))
done
expect_event 31 '"verdict":"deny"' '"name":"minix"'
want="started=3 succeeded=3 failed=0 timed_out=0 dropped_rate_limited=28 dropped_busy=0 "
i=0
while :; do
	hooks=$(on_deny_counters)
	[ "$hooks" = "$want" ] && break
	i=$((i + 1))
	[ $i -lt 100 ] || fail "hook counters after the flood: $hooks, expected $want"
	sleep 0.1
done
[ "$(wc -l </tmp/hook.out)" -eq 3 ] || fail "the hook ran $(wc -l </tmp/hook.out) times, expected 3"
pass "flood: 3 hook runs, 28 dropped by the rate limit: $hooks"
# Drops are reported at most once a second, so the last report may trail the counters.
dropped_reported() {
	grep '"event":"hook_dropped"' "$EVENTS" | sed -n 's/.*"count":\([0-9]*\).*/\1/p' | awk '{s+=$1} END {print s+0}'
}
i=0
while [ "$(dropped_reported)" -lt 28 ] && [ $i -lt 50 ]; do
	i=$((i + 1))
	sleep 0.1
done
n=$(dropped_reported)
[ "$n" -eq 28 ] || fail "hook_dropped events count $n drops, expected 28"
pass "hook_dropped events account for all 28 drops"

# --- a restarted agent adopts: the record is still known; a failing hook is counted and reported
kill_agent
cat >/tmp/fail.conf <<'CONF'
on_deny = "exit 7"
CONF
AGENT_ARGS="--config /tmp/fail.conf"
start_agent
grep -q "adopted" "$AGENT_ERR" || fail "the second agent did not adopt"
expect_event 1 '"event":"loaded_before_enforcement"' '"known":true' '"count":2' '"not_listed":1'
expect_errno $EPERM "$LOADMOD" finit "$f" $flag
expect_event 1 '"event":"hook"' '"hook":"on_deny"' '"result":"failed"' '"exit_status":7'
hooks=$(on_deny_counters)
[ "$hooks" = "started=1 succeeded=0 failed=1 timed_out=0 dropped_rate_limited=0 dropped_busy=0 " ] ||
	fail "failed hook not counted: $hooks"
pass "adopting agent: record known, failing hook counted: $hooks"
stop_agent
[ ! -e /run/modgate/loaded-before-enforcement.json ] || fail "disarm left the record behind"
pass "disarm removed the loaded-before-enforcement record"
echo "hooks scenario passed"
