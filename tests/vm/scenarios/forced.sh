# SPDX-License-Identifier: Apache-2.0
# Scenario 10: forced loads. kmod's modprobe -f either passes MODULE_INIT_IGNORE_* to finit_module
# (plain .ko: the bytes are unchanged, the flags are what betrays it) or strips the module in
# userspace and uses init_module (.ko.xz with Debian 12's kmod: the hash no longer matches).
# Both are refused in enforce mode; allow_forced: true admits the first kind.
. /scenarios/lib.sh
f=$(modfile dummy)
write_policy /tmp/strict.yaml enforce "" dummy
start_agent /tmp/strict.yaml
out=$(modprobe -f dummy 2>&1) && fail "modprobe -f dummy succeeded without allow_forced"
echo "$out" | grep -q "Operation not permitted" || fail "modprobe -f failed without EPERM: $out"
loaded dummy && fail "forced dummy was loaded"
pass "modprobe -f refused: $out"
flag=
forced_before=0
if is_compressed "$f"; then
	flag=--compressed
	expect_event 1 '"verdict":"deny"' '"reason":"not-listed"' '"hook":"kernel_post_load_data"'
else
	expect_event 1 '"verdict":"deny"' '"reason":"forced"' '"hook":"kernel_post_read_file"'
	forced_before=1
fi
expect_errno $EPERM "$LOADMOD" finit "$f" $flag --ignore-vermagic --ignore-modversions
expect_event $((forced_before + 1)) '"verdict":"deny"' '"reason":"forced"' '"forced":true' \
	"\"sha256\":\"$(sha_of "$f")\""
stop_agent

write_policy /tmp/forced-ok.yaml enforce "allow_forced: true" dummy
start_agent /tmp/forced-ok.yaml
expect_errno 0 "$LOADMOD" finit "$f" $flag --ignore-vermagic --ignore-modversions
loaded dummy || fail "forced finit_module not admitted with allow_forced"
rmmod dummy
if is_compressed "$f"; then
	# kmod 30 rewrites a compressed module in userspace before init_module: different bytes.
	modprobe -f dummy 2>/dev/null && fail "rewritten (stripped) dummy admitted"
	pass "modprobe -f of a .ko.xz (rewritten bytes) still refused: not on the allowlist"
else
	modprobe -f dummy || fail "modprobe -f dummy refused with allow_forced: true"
	loaded dummy || fail "dummy not loaded by modprobe -f with allow_forced"
fi
stop_agent
