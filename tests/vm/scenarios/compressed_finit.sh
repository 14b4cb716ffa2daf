# Scenario 6 (6.12): finit_module(MODULE_INIT_COMPRESSED_FILE) on a .ko.xz is judged by the
# compressed file's hash, the bytes the hooks see; the decompressed hash alone does not admit it.
. /scenarios/lib.sh
f=$(modfile dummy)
is_compressed "$f" || fail "this kernel's modules are not compressed; scenario needs 6.12"
img=$(plain_ko dummy)
write_policy /tmp/policy.yaml enforce "log_allowed: true" dummy
start_agent /tmp/policy.yaml
expect_errno 0 "$LOADMOD" finit "$f" --compressed
loaded dummy || fail "dummy.ko.xz not loaded with MODULE_INIT_COMPRESSED_FILE"
expect_event 1 '"verdict":"allow"' "\"sha256\":\"$(sha_of "$f")\"" '"compressed":true'
rmmod dummy
stop_agent

# Only the decompressed image listed: the compressed file is not what it describes.
{
	echo "version: 1"
	echo "mode: enforce"
	echo "modules:"
	echo "  - name: dummy"
	echo "    sha256: $(sha_of "$img")"
} >/tmp/image-only.yaml
start_agent /tmp/image-only.yaml
expect_errno $EPERM "$LOADMOD" finit "$f" --compressed
expect_event 1 '"verdict":"deny"' "\"sha256\":\"$(sha_of "$f")\""
stop_agent
