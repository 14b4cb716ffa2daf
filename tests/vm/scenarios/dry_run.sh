# SPDX-License-Identifier: Apache-2.0
# Scenario 8: dry-run blocks nothing; each load enforce would deny loads and yields exactly one
# would-deny event with the correct hash, and allowlisted loads yield none.
. /scenarios/lib.sh
write_policy /tmp/policy.yaml dry-run "autoload:
  deny: [\"rtnl-link-nlmon\"]" dummy
start_agent /tmp/policy.yaml
modprobe dummy || fail "allowlisted dummy did not load in dry-run"
expect_event 0 '"name":"dummy"'
rmmod dummy

f=$(modfile minix)
flag=
is_compressed "$f" && flag=--compressed
expect_errno 0 "$LOADMOD" finit "$f" $flag
loaded minix || fail "unlisted minix was blocked in dry-run"
expect_event 1 '"verdict":"would-deny"' "\"sha256\":\"$(sha_of "$f")\"" '"name":"minix"' '"mode":"dry-run"'

bad=$(unsigned_ko dummy)
expect_errno 0 "$LOADMOD" init "$bad"
loaded dummy || fail "tampered dummy was blocked in dry-run"
expect_event 1 '"verdict":"would-deny"' "\"sha256\":\"$(sha_of "$bad")\"" '"hook":"kernel_post_load_data"'
rmmod dummy

ip link add mg0 type nlmon || fail "autoload was blocked in dry-run"
expect_event 1 '"event":"module_request"' '"verdict":"would-deny"' '"name":"rtnl-link-nlmon"'
expect_event 0 '"verdict":"deny"'
stop_agent
