# SPDX-License-Identifier: Apache-2.0
# Live policy changes through the control socket and SIGHUP: each valid, newer policy takes effect
# at once; an invalid, older or foreign one is refused with a clear error and changes nothing.
. /scenarios/lib.sh
minix=$(modfile minix)
flag=
is_compressed "$minix" && flag=--compressed

write_policy /etc/p1.yaml enforce "" dummy
start_agent /etc/p1.yaml
[ "$(stat -c %a /run/modgate/modgate.sock)" = 600 ] || fail "socket mode is $(stat -c %a /run/modgate/modgate.sock)"
setpriv --reuid=65534 --regid=65534 --clear-groups "$MODGATE" status >/tmp/nonroot.out 2>&1 &&
	fail "a non-root user got the status: $(cat /tmp/nonroot.out)"
pass "non-root refused: $(cat /tmp/nonroot.out)"
"$MODGATE" status || fail "modgate status failed"
[ "$(status_field version)" = 1 ] || fail "status does not show version 1"
d1=$(status_field digest)
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag

# A newer policy that lists minix: admitted at once.
write_policy /etc/p2.yaml enforce "" dummy minix
sed -i 's/^version: 1/version: 2/' /etc/p2.yaml
"$MODGATE" apply /etc/p2.yaml || fail "apply of version 2 failed"
[ "$(status_field version)" = 2 ] || fail "status does not show version 2 after apply"
d2=$(status_field digest)
expect_errno 0 "$LOADMOD" finit "$minix" $flag
rmmod minix

# Invalid: FILE:LINE:COL errors, nothing changes.
printf 'version: 3\nmode: enforce\nmodules:\n  - name: x\n    sha256: nothex\nbogus: 1\n' >/etc/bad.yaml
"$MODGATE" apply /etc/bad.yaml >/tmp/apply.out 2>&1 && fail "invalid policy applied"
grep -q "^/etc/bad.yaml:5:" /tmp/apply.out || fail "no FILE:LINE:COL error for the bad hash: $(cat /tmp/apply.out)"
grep -q "^/etc/bad.yaml:6:1:" /tmp/apply.out || fail "no FILE:LINE:COL error for the unknown key: $(cat /tmp/apply.out)"
pass "invalid policy refused: $(head -n1 /tmp/apply.out)"
[ "$(status_field digest)" = "$d2" ] || fail "policy changed after a refused apply"
expect_errno 0 "$LOADMOD" finit "$minix" $flag
rmmod minix

# Not newer: refused.
write_policy /etc/p2b.yaml enforce "" dummy
sed -i 's/^version: 1/version: 2/' /etc/p2b.yaml
"$MODGATE" apply /etc/p2b.yaml >/tmp/apply.out 2>&1 && fail "same-version policy applied"
grep -q "not greater than version 2" /tmp/apply.out || fail "unexpected refusal: $(cat /tmp/apply.out)"
[ "$(status_field digest)" = "$d2" ] || fail "policy changed after a refused rollback"
pass "same version refused"

# Another kernel's policy: refused.
write_policy /etc/foreign.yaml enforce "kernels: [\"9.9.*\"]" dummy
sed -i 's/^version: 1/version: 7/' /etc/foreign.yaml
"$MODGATE" apply /etc/foreign.yaml >/tmp/apply.out 2>&1 && fail "policy for other kernels applied"
grep -q "other kernels" /tmp/apply.out || fail "unexpected refusal: $(cat /tmp/apply.out)"
pass "foreign kernels refused"

# A deliberate rollback with --force: applied, and logged as forced.
"$MODGATE" apply --force /etc/p1.yaml || fail "forced rollback failed"
[ "$(status_field digest)" = "$d1" ] || fail "forced rollback not in force"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
expect_event 1 '"event":"policy_apply"' '"result":"ok"' '"forced":true'
expect_event 3 '"event":"policy_apply"' '"result":"refused"'

# SIGHUP re-reads the configured file (/etc/p1.yaml).
write_policy /etc/p1.yaml enforce "" dummy minix
sed -i 's/^version: 1/version: 10/' /etc/p1.yaml
kill -s HUP "$AGENT_PID"
i=0
while [ "$(status_field version)" != 10 ]; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "SIGHUP did not apply version 10"
	sleep 0.1
done
expect_errno 0 "$LOADMOD" finit "$minix" $flag
pass "SIGHUP applied version 10"
rmmod minix
stop_agent
