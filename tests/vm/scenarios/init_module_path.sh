# SPDX-License-Identifier: Apache-2.0
# Scenario 5: init_module with the decompressed image is judged on exactly those bytes: allowed
# when the image's hash is listed, denied (kernel_post_load_data) when it is not.
. /scenarios/lib.sh
img=$(plain_ko dummy)
write_policy /tmp/allow.yaml enforce "" dummy
start_agent /tmp/allow.yaml
expect_errno 0 "$LOADMOD" init "$img"
loaded dummy || fail "dummy not loaded through init_module"
rmmod dummy
stop_agent

write_policy /tmp/deny.yaml enforce "" minix
start_agent /tmp/deny.yaml
expect_errno $EPERM "$LOADMOD" init "$img"
loaded dummy && fail "unlisted image loaded through init_module"
expect_event 1 '"verdict":"deny"' "\"sha256\":\"$(sha_of "$img")\"" '"hook":"kernel_post_load_data"'
stop_agent
