# SPDX-License-Identifier: Apache-2.0
# Scenario 9: a module of 10 MiB or more (amdgpu, the real one from the kernel package) is hashed
# correctly in the kernel and allowed: modprobe loads it with its twelve dependencies, every one
# of them allowlisted (finit_module on 6.1; userspace xz decompression and init_module on 6.12).
. /scenarios/lib.sh
f=$(modfile amdgpu)
img=$(plain_ko amdgpu)
size=$(wc -c <"$img")
[ "$size" -ge $((10 * 1024 * 1024)) ] || fail "amdgpu image is only $size bytes"
all=$(find "$MODDIR" -name '*.ko*' | sed 's|.*/||; s|\.ko.*||')
write_policy /tmp/policy.yaml enforce "log_allowed: true" $all
start_agent /tmp/policy.yaml
modprobe amdgpu || fail "modprobe amdgpu failed"
loaded amdgpu || fail "amdgpu not loaded"
expect_event 1 '"verdict":"allow"' "\"sha256\":\"$(sha_of "$img")\"" "\"size\":$size" '"name":"amdgpu"'
expect_event 0 '"verdict":"deny"'
stop_agent
