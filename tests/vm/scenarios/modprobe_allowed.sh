# SPDX-License-Identifier: Apache-2.0
# Scenario 2: an allowlisted module loads through kmod's modprobe (finit_module for a plain .ko,
# userspace decompression and init_module for a .ko.xz with Debian 12's kmod).
. /scenarios/lib.sh
write_policy /tmp/policy.yaml enforce "" dummy
start_agent /tmp/policy.yaml
modprobe dummy || fail "modprobe of allowlisted dummy failed"
loaded dummy || fail "dummy not in /proc/modules after modprobe"
pass "allowlisted dummy loaded by kmod modprobe"
expect_event 0 '"verdict":"deny"'
stop_agent
