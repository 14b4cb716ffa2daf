# SPDX-License-Identifier: Apache-2.0
# Scenario 1: an allowlisted module loads through busybox insmod (finit_module first; for a .ko.xz
# busybox falls back to decompressing and init_module, which the decompressed hash allows).
. /scenarios/lib.sh
write_policy /tmp/policy.yaml enforce "" dummy
start_agent /tmp/policy.yaml
busybox insmod "$(modfile dummy)" || fail "busybox insmod of allowlisted dummy failed"
loaded dummy || fail "dummy not in /proc/modules after insmod"
lsmod | grep -q '^dummy' || fail "lsmod does not show dummy"
pass "allowlisted dummy loaded by busybox insmod and listed by lsmod"
expect_event 0 '"verdict":"deny"'
stop_agent
