# SPDX-License-Identifier: Apache-2.0
# Scenario 4: the allowlisted module with one byte changed (inside its appended signature, so the
# ELF still parses: a tampered driver that would otherwise load, merely tainting the kernel) is
# refused on both paths, while the untouched copy loads.
. /scenarios/lib.sh
write_policy /tmp/policy.yaml enforce "" dummy
start_agent /tmp/policy.yaml
good=$(plain_ko dummy)
bad=/tmp/dummy-tampered.ko
cp "$good" "$bad"
size=$(wc -c <"$bad")
off=$((size - 60))
orig=$(od -An -tu1 -j"$off" -N1 "$bad" | tr -d ' ')
new=$(((orig + 1) % 256))
printf "\\$(printf %03o "$new")" | dd of="$bad" bs=1 seek="$off" conv=notrunc 2>/dev/null
cmp -s "$good" "$bad" && fail "byte flip did not change the file"
expect_errno $EPERM "$LOADMOD" finit "$bad"
expect_errno $EPERM "$LOADMOD" init "$bad"
loaded dummy && fail "tampered dummy was loaded"
expect_event 2 '"verdict":"deny"' "\"sha256\":\"$(sha_of "$bad")\""
expect_errno 0 "$LOADMOD" finit "$good"
loaded dummy || fail "untouched dummy did not load"
stop_agent
