# SPDX-License-Identifier: Apache-2.0
# Scenario 3: a module that is not on the allowlist (minix, standing in for a rootkit) fails with
# EPERM on finit_module, with one deny event carrying its hash and name; kmod insmod is refused too.
. /scenarios/lib.sh
write_policy /tmp/policy.yaml enforce "" dummy
start_agent /tmp/policy.yaml
f=$(modfile minix)
flag=
is_compressed "$f" && flag=--compressed
expect_errno $EPERM "$LOADMOD" finit "$f" $flag
loaded minix && fail "minix was loaded despite the deny"
expect_event 1 '"verdict":"deny"' "\"sha256\":\"$(sha_of "$f")\"" '"name":"minix"' \
	'"hook":"kernel_post_read_file"' '"reason":"not-listed"'
out=$(insmod "$f" 2>&1) && fail "kmod insmod of unlisted minix succeeded"
echo "$out" | grep -q "Operation not permitted" || fail "kmod insmod failed without EPERM: $out"
loaded minix && fail "minix loaded by kmod insmod"
pass "kmod insmod of minix refused: $out"
expect_event 2 '"verdict":"deny"' '"reason":"not-listed"'
# Renamed, it is still reported by its own name (.modinfo), with the path it was loaded from.
disguise=/tmp/totally-harmless${f##*/minix}
cp "$f" "$disguise"
expect_errno $EPERM "$LOADMOD" finit "$disguise" $flag
expect_event 1 '"verdict":"deny"' '"name":"minix"' "\"path\":\"$disguise\""
stop_agent
