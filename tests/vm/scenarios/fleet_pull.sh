# SPDX-License-Identifier: Apache-2.0
# Fleet push by HTTPS pull, end to end: the real agent with --trust and --pull polls Debian's nginx
# inside the guest, enforces a signed bundle, switches to a newer one, and keeps the policy in
# force through every kind of bad bundle and bad server, each visible in status and metrics.
# Finally a "reboot" (pins gone) with the server down re-applies the saved bundle.
. /scenarios/lib.sh
. /scenarios/https.sh

minix=$(modfile minix)
flag=
is_compressed "$minix" && flag=--compressed

# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
	limit=$(($1 * 10))
	shift
	i=0
	until "$@"; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.1
	done
}
status_has() { "$MODGATE" status --json | grep -q -- "$1"; }
version_is() { [ "$(status_field version)" = "$1" ]; }
# A refusal shows as last_apply.reason; its counter in status --prometheus says how many.
refused_with() { status_has "\"reason\": \"$1\""; }

"$MODGATE" keygen -o /tmp/fleet >/dev/null || fail "keygen failed"
"$MODGATE" keygen -o /tmp/stranger >/dev/null || fail "keygen failed"
mkdir -p /etc/modgate/trust
cp /tmp/fleet.public.pem /etc/modgate/trust/fleet.pem
sign() { "$MODGATE" policy sign --key "${3:-/tmp/fleet.private.pem}" "$1" -o "$2" >/dev/null || fail "cannot sign $1"; }
versioned() { # versioned N OUT MODULE...: an enforce policy of version N listing the modules
	n=$1 out=$2
	shift 2
	write_policy "$out" enforce "" "$@"
	sed -i "s/^version: 1\$/version: $n/" "$out"
}

versioned 1 /tmp/p1.yaml dummy
sign /tmp/p1.yaml /tmp/b1
https_start || fail "cannot start the HTTPS server"
https_publish fleet.bundle /tmp/b1 || fail "cannot publish"
url=$(https_url fleet.bundle)

mkdir -p /tmp/metrics
AGENT_ARGS="--trust /etc/modgate/trust --pull $url --ca $HTTPS_CA --interval 2 --state-dir /var/lib/modgate --metrics-file /tmp/metrics/modgate.prom"
start_agent # no --policy: the first policy comes from the server
version_is 1 || fail "status does not show the pulled version 1: $("$MODGATE" status)"
status_has '"key_id"' || fail "status does not name the signing key"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
pass "bundle version 1 pulled over HTTPS and enforced"

# A newer bundle that lists minix: picked up by the next poll, no signal needed.
versioned 2 /tmp/p2.yaml dummy minix
sign /tmp/p2.yaml /tmp/b2
https_publish fleet.bundle /tmp/b2
wait_for 30 version_is 2 || fail "version 2 not applied within 30 s: $("$MODGATE" status)"
expect_errno 0 "$LOADMOD" finit "$minix" $flag
rmmod minix
d2=$(status_field digest)
pass "switched to version 2 by polling"

# refuse_case NAME REASON FILE: publish FILE, poll at once (SIGHUP), and expect the refusal.
refuse_case() {
	https_publish fleet.bundle "$3"
	kill -s HUP "$AGENT_PID"
	wait_for 20 refused_with "$2" || fail "$1: no '$2' refusal in status: $("$MODGATE" status --json)"
	[ "$(status_field digest)" = "$d2" ] || fail "$1: the policy in force changed"
	"$MODGATE" status --json | sed -n 's/^ *"reason": "\(.*\)",*$/\1/p' | head -n1 >/tmp/reason
	"$MODGATE" status --json | grep -m1 '"message"' | sed 's/^ *//' >/tmp/msg
	pass "$1 refused ($(cat /tmp/reason)): $(cat /tmp/msg)"
	# Back to a clean slate so the next case's reason cannot be this one's.
	https_publish fleet.bundle /tmp/b2
	kill -s HUP "$AGENT_PID"
	wait_for 20 status_has '"result": "ok"' || fail "$1: republishing version 2 not taken back"
}

versioned 3 /tmp/p3.yaml dummy minix nlmon
sign /tmp/p3.yaml /tmp/b3
# Tampered: one hex digit of a hash in the signed policy changed.
last=$(tail -c 2 /tmp/b3 | head -c 1)
other=0
[ "$last" = 0 ] && other=1
sed "\$s/.\$/$other/" /tmp/b3 >/tmp/b3.tampered
[ "$(wc -c </tmp/b3)" = "$(wc -c </tmp/b3.tampered)" ] || fail "tampering changed the size"
cmp -s /tmp/b3 /tmp/b3.tampered && fail "tampering changed nothing"
refuse_case "tampered bundle" bad_signature /tmp/b3.tampered
sign /tmp/p3.yaml /tmp/b3.stranger /tmp/stranger.private.pem
refuse_case "bundle signed by an unknown key" unknown_key /tmp/b3.stranger
refuse_case "older version (rollback)" rollback /tmp/b1
head -c 4096 /dev/urandom >/tmp/garbage
refuse_case "garbage" unsigned /tmp/garbage
refuse_case "plain policy" unsigned /tmp/p3.yaml

# Server-side failures: the pull fails, is counted, and nothing else happens.
failures() { "$MODGATE" status --json | sed -n 's/^ *"failures_total": \([0-9]*\),*$/\1/p' | tail -n1; }
pull_fails_with() { # NAME PATTERN: the pull's last_error matches after the next poll
	before=$(failures)
	kill -s HUP "$AGENT_PID"
	i=0
	while [ "$(failures)" -le "$before" ]; do
		i=$((i + 1))
		[ "$i" -lt 400 ] || fail "$1: no pull failure counted: $("$MODGATE" status --json)"
		sleep 0.1
	done
	status_has "\"last_error\": \".*$2" || fail "$1: last_error does not say '$2': $("$MODGATE" status --json)"
	[ "$(status_field digest)" = "$d2" ] || fail "$1: the policy in force changed"
	pass "$1: pull failed, policy kept: $("$MODGATE" status --json | grep -m1 last_error | sed 's/^ *//')"
}
rm -f "$HTTPS_ROOT/fleet.bundle"
pull_fails_with "404" "HTTP 404"
truncate -s 100M "$HTTPS_ROOT/.big" && mv "$HTTPS_ROOT/.big" "$HTTPS_ROOT/fleet.bundle"
pull_fails_with "100 MiB response" "larger than"
rm -f "$HTTPS_ROOT/fleet.bundle"

# A 500 and a server that accepts and never answers: the same agent state, another URL.
kill_agent
AGENT_ARGS="--trust /etc/modgate/trust --pull $(https_url status/500) --ca $HTTPS_CA --interval 2 --state-dir /var/lib/modgate --metrics-file /tmp/metrics/modgate.prom"
start_agent
pull_fails_with "HTTP 500" "HTTP 500"
kill_agent
# Accepts every connection and never sends a byte. Persistent (-ll): a one-shot listener exits
# after the first timed-out pull, so the retry would see "connection refused" and overwrite the
# timeout this checks for.
printf '#!/bin/sh\nexec sleep 3600\n' >/tmp/silent && chmod +x /tmp/silent
nc -ll -p 9444 -e /tmp/silent >/dev/null 2>&1 &
NC_PID=$!
AGENT_ARGS="--trust /etc/modgate/trust --pull https://127.0.0.1:9444/fleet.bundle --ca $HTTPS_CA --interval 2 --state-dir /var/lib/modgate --metrics-file /tmp/metrics/modgate.prom"
start_agent
pull_fails_with "server that never answers" "timed out"
kill "$NC_PID" 2>/dev/null
pkill -f "sleep 3600" 2>/dev/null

# Everything shows in the metrics, and enforcement is intact.
"$MODGATE" status --prometheus >/tmp/metrics.txt || fail "status --prometheus failed"
grep -q '^modgate_policy_version 2$' /tmp/metrics.txt || fail "metrics: no policy version 2: $(cat /tmp/metrics.txt)"
grep -q '^modgate_pull_failures_total [1-9]' /tmp/metrics.txt || fail "metrics: no pull failures"
grep -q '^modgate_trust_high_water_version 2$' /tmp/metrics.txt || fail "metrics: high-water mark not 2"
wait_for 20 grep -q '^modgate_pull_failures_total [1-9]' /tmp/metrics/modgate.prom ||
	fail "the --metrics-file has no pull failures: $(cat /tmp/metrics/modgate.prom)"
pass "metrics file and status --prometheus report version, failures and the mark"
nlmon=$(modfile nlmon)
nflag=
is_compressed "$nlmon" && nflag=--compressed
expect_errno $EPERM "$LOADMOD" finit "$nlmon" $nflag

# A reboot: nothing pinned, the server failing. The saved bundle is re-verified and enforced.
kill_agent
disarm_agent
start_agent
version_is 2 || fail "after the pins were removed, the saved bundle was not re-applied: $("$MODGATE" status)"
expect_errno 0 "$LOADMOD" finit "$minix" $flag
rmmod minix
expect_errno $EPERM "$LOADMOD" finit "$nlmon" $nflag
pass "saved bundle version 2 enforced again with the server down"
# And the anti-rollback mark survived: version 1 from the local socket is refused.
"$MODGATE" apply /tmp/b1 >/tmp/apply.out 2>&1 && fail "the rollback bundle was applied after restart"
grep -q "anti-rollback" /tmp/apply.out || fail "unexpected refusal: $(cat /tmp/apply.out)"
pass "rollback refused after restart: $(cat /tmp/apply.out)"

# Staged rollout: without a machine id a staged policy is refused; with one, 0 % runs this host
# in dry-run and 100 % in enforce, the same digest either way, and status shows the cohort.
versioned 7 /tmp/p7.yaml dummy
sed -i '2a rollout: {enforce_percent: 0, salt: wave-1}' /tmp/p7.yaml
sign /tmp/p7.yaml /tmp/b7
"$MODGATE" apply /tmp/b7 >/tmp/apply.out 2>&1 && fail "a staged policy applied without a machine id"
grep -q "machine" /tmp/apply.out || fail "unexpected refusal: $(cat /tmp/apply.out)"
pass "staged policy without a machine id refused: $(cat /tmp/apply.out)"
kill_agent
printf '0123456789abcdef0123456789abcdef\n' >/tmp/machine-id
AGENT_ARGS="$AGENT_ARGS --machine-id /tmp/machine-id"
start_agent
"$MODGATE" apply /tmp/b7 >/tmp/apply.out 2>&1 || fail "staged 0 % refused: $(cat /tmp/apply.out)"
[ "$(status_field mode)" = dry-run ] || fail "0 % rollout does not run dry-run: $("$MODGATE" status --json)"
status_has '"configured_mode": "enforce"' || fail "status does not show the configured mode"
status_has '"in_cohort": false' || fail "status does not show the cohort"
bucket=$("$MODGATE" status --json | sed -n 's/^ *"bucket": \([0-9]*\),*$/\1/p' | head -n1)
want=$("$MODGATE" policy verify --trust /etc/modgate/trust --machine-id /tmp/machine-id --json /tmp/b7 |
	sed -n 's/^ *"bucket": \([0-9]*\),*$/\1/p')
[ -n "$bucket" ] && [ "$bucket" = "$want" ] || fail "status bucket '$bucket', policy verify says '$want'"
expect_errno 0 "$LOADMOD" finit "$minix" $flag
rmmod minix
expect_event 1 '"verdict":"would-deny"' '"name":"minix"' '"policy_version":7'
"$MODGATE" status --prometheus | grep -q '^modgate_enforcing 0$' || fail "metrics do not say dry-run"
sed 's/enforce_percent: 0,/enforce_percent: 100,/; s/^version: 7$/version: 8/' /tmp/p7.yaml >/tmp/p8.yaml
sign /tmp/p8.yaml /tmp/b8
"$MODGATE" apply /tmp/b8 >/tmp/apply.out 2>&1 || fail "staged 100 % refused: $(cat /tmp/apply.out)"
[ "$(status_field mode)" = enforce ] || fail "100 % rollout does not enforce"
status_has '"in_cohort": true' || fail "status does not show the host in the cohort"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
"$MODGATE" status --prometheus | grep -q '^modgate_rollout_in_enforce_cohort 1$' || fail "metrics: cohort"
pass "staged rollout: 0 % dry-run, 100 % enforce, bucket $bucket as policy verify computes it"

stop_agent
https_stop
