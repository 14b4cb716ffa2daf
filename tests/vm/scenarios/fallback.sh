# SPDX-License-Identifier: Apache-2.0
# A start that cannot put its policy in force never leaves the host silently open (docs/boot.md,
# "When the start fails"): a policy for another kernel runs as its other_kernels: says; an
# unreadable or invalid policy, or a broken trust store, gets the fallback (--fallback report or
# deny). Each says so on stderr, in status, in the metrics and in a "fallback" event, and the next
# good policy ends it. An initramfs-style --arm-only start arms the fallback too, and the agent
# that adopts it keeps saying so.
. /scenarios/lib.sh
minix=$(modfile minix)
dummy=$(modfile dummy)
flag=
is_compressed "$minix" && flag=--compressed
metrics=/tmp/metrics/modgate.prom
mkdir -p /tmp/metrics
AGENT_ARGS="--metrics-file $metrics"

# fallback_status FIELD: FIELD of status's "fallback" object ("" when there is none).
fallback_status() {
	"$MODGATE" status --json | sed -n '/^  "fallback": {/,/^  }/p' |
		sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n1
}

# expect_fallback REASON ACTION: every channel says the fallback runs, and why.
expect_fallback() {
	grep -q "FALLBACK ($1)" "$AGENT_ERR" || fail "stderr does not say FALLBACK ($1)"
	[ "$(fallback_status reason)" = "$1" ] || fail "status fallback.reason is '$(fallback_status reason)', not $1"
	[ "$(fallback_status action)" = "$2" ] || fail "status fallback.action is '$(fallback_status action)', not $2"
	expect_event 1 '"event":"fallback"' "\"reason\":\"$1\"" "\"action\":\"$2\""
	grep -q '^modgate_fallback_active 1$' "$metrics" || fail "metrics lack modgate_fallback_active 1: $(grep fallback "$metrics")"
	grep -q "^modgate_fallback_info{reason=\"$1\",action=\"$2\"} 1$" "$metrics" ||
		fail "metrics lack modgate_fallback_info for $1/$2"
	pass "fallback $1/$2 said on stderr, in status, an event and the metrics"
}

# --- a policy for another kernel, other_kernels: report (the default) ---
write_policy /etc/foreign.yaml enforce 'kernels: ["9.9.*"]' dummy
start_agent /etc/foreign.yaml
expect_fallback other_kernel report
[ "$(status_field mode)" = dry-run ] || fail "the foreign policy does not run dry-run"
expect_errno 0 "$LOADMOD" finit "$minix" $flag
expect_event 1 '"verdict":"would-deny"' '"name":"minix"' '"mode":"dry-run"'
rmmod minix
expect_errno 0 "$LOADMOD" finit "$dummy" $(is_compressed "$dummy" && echo --compressed)
expect_event 0 '"verdict":"would-deny"' '"name":"dummy"'
rmmod dummy
# The policy that names this kernel ends the fallback, at once and everywhere.
write_policy /etc/own.yaml enforce "" dummy
sed -i 's/^version: 1/version: 2/' /etc/own.yaml
"$MODGATE" apply /etc/own.yaml || fail "apply of a policy for this kernel failed"
expect_event 1 '"event":"fallback_cleared"' '"reason":"other_kernel"'
[ -z "$(fallback_status reason)" ] || fail "status still shows a fallback after a good apply"
[ "$(status_field mode)" = enforce ] || fail "not enforcing after the good apply"
"$MODGATE" status --json >/dev/null # rewrites nothing; the metrics follow the apply:
grep -q '^modgate_fallback_active 0$' "$metrics" || fail "metrics still say fallback after a good apply"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
pass "the policy for this kernel ended the fallback"
stop_agent

# --- other_kernels: enforce: the foreign policy is enforced as written ---
write_policy /etc/foreign-strict.yaml enforce 'kernels: ["9.9.*"]
other_kernels: enforce' dummy
start_agent /etc/foreign-strict.yaml
expect_fallback other_kernel enforce
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
expect_errno 0 "$LOADMOD" finit "$dummy" $(is_compressed "$dummy" && echo --compressed)
rmmod dummy
stop_agent

# --- a policy that does not parse: the report fallback, every load reported ---
printf 'version: 1\nmode: enforce\nmodules: [\n' >/etc/broken.yaml
start_agent /etc/broken.yaml
expect_fallback invalid report
[ "$(status_field version)" = 0 ] || fail "the fallback is not version 0"
expect_errno 0 "$LOADMOD" finit "$dummy" $(is_compressed "$dummy" && echo --compressed)
expect_event 1 '"verdict":"would-deny"' '"name":"dummy"'
rmmod dummy
stop_agent

# --- a missing policy file with --fallback deny: every module load refused ---
AGENT_ARGS="--metrics-file $metrics --fallback deny"
start_agent /etc/no-such-policy.yaml
expect_fallback unreadable deny
expect_errno $EPERM "$LOADMOD" finit "$dummy" $(is_compressed "$dummy" && echo --compressed)
"$MODGATE" apply /etc/own.yaml || fail "apply after the deny fallback failed"
expect_errno 0 "$LOADMOD" finit "$dummy" $(is_compressed "$dummy" && echo --compressed)
rmmod dummy
stop_agent
AGENT_ARGS="--metrics-file $metrics"

# --- a trust store with a key that does not parse: nothing is admitted, the fallback reports ---
mkdir -p /etc/modgate/badtrust
echo "not a key" >/etc/modgate/badtrust/junk.pem
AGENT_ARGS="--metrics-file $metrics --trust /etc/modgate/badtrust --state-dir /var/lib/modgate"
start_agent /etc/own.yaml
expect_fallback trust_unavailable report
"$MODGATE" apply /etc/own.yaml >/tmp/apply.out 2>&1 && fail "a policy was admitted without a trust store"
grep -q "cannot admit any policy" /tmp/apply.out || fail "unexpected refusal: $(cat /tmp/apply.out)"
stop_agent
AGENT_ARGS="--metrics-file $metrics"

# --- the initramfs path: --arm-only arms the fallback (exit 3); the next agent keeps saying so ---
"$MODGATE" run --arm-only --policy /etc/broken.yaml --state-dir /run/modgate/initramfs >/tmp/arm.out 2>&1
rc=$?
[ "$rc" -eq 3 ] || fail "--arm-only with a broken policy exited $rc, not 3: $(cat /tmp/arm.out)"
grep -q "FALLBACK (invalid)" /tmp/arm.out || fail "--arm-only did not say FALLBACK: $(cat /tmp/arm.out)"
expect_errno 0 "$LOADMOD" finit "$minix" $flag
rmmod minix
start_agent
expect_fallback fallback_in_force report
grep -q '"verdict":"would-deny".*"name":"minix"' "$EVENTS" ||
	fail "the adopting agent did not report the load the armed fallback saw"
pass "the adopting agent reported the armed fallback's load"
stop_agent

# --- an installed kernel the policy does not name: status and the metrics say so before a reboot
# (docs/rollout.md, "Kernel upgrades"); a tree without modules.dep (DKMS leftovers) is no kernel ---
rel=$(uname -r)
mkdir -p /lib/modules/9.9.9-next/kernel /lib/modules/9.9.8-gone/updates
: >/lib/modules/9.9.9-next/modules.dep
write_policy /etc/named.yaml enforce "kernels: [\"$rel\"]" dummy
start_agent /etc/named.yaml
"$MODGATE" status --json >/tmp/status.json
grep -q '"9.9.9-next"' /tmp/status.json || fail "status does not name 9.9.9-next: $(grep -A4 '"kernels"' /tmp/status.json)"
grep -q '9.9.8-gone' /tmp/status.json && fail "status names a directory without modules.dep"
"$MODGATE" status | grep -q '^next boot *9.9.9-next installed, not in the policy' ||
	fail "status does not say the next boot is not covered: $("$MODGATE" status | head -n 12)"
grep -q '^modgate_kernels_not_covered 1$' "$metrics" || fail "metrics: $(grep not_covered "$metrics")"
grep -q '^modgate_kernel_not_covered_info{release="9.9.9-next"} 1$' "$metrics" ||
	fail "metrics do not name 9.9.9-next"
pass "an installed kernel the policy does not name is said in status and the metrics"
write_policy /etc/named2.yaml enforce "kernels: [\"$rel\", \"9.9.*\"]" dummy
sed -i 's/^version: 1/version: 2/' /etc/named2.yaml
"$MODGATE" apply /etc/named2.yaml || fail "apply of the policy naming 9.9.* failed"
grep -q '^modgate_kernels_not_covered 0$' "$metrics" || fail "metrics still count a kernel: $(grep not_covered "$metrics")"
"$MODGATE" status | grep -q '^next boot' && fail "status still names a kernel the policy now names"
pass "a policy naming the kernel clears it"
stop_agent
rm -rf /lib/modules/9.9.9-next /lib/modules/9.9.8-gone
