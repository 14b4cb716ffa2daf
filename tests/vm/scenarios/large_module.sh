# Scenario 9: a module of 10 MiB or more (amdgpu, the real one from the kernel package) is hashed
# correctly in the kernel and allowed. Its dependencies are absent, so the load itself then fails
# on unknown symbols: that failure comes after, and independently of, modgate's verdict.
. /scenarios/lib.sh
f=/big/$(ls /big)
case "$f" in
*.ko) img=$f ;;
*) img=/tmp/amdgpu.ko; xzcat "$f" >"$img" ;;
esac
size=$(wc -c <"$img")
[ "$size" -ge $((10 * 1024 * 1024)) ] || fail "amdgpu image is only $size bytes"
{
	echo "version: 1"
	echo "mode: enforce"
	echo "log_allowed: true"
	echo "modules:"
	echo "  - name: amdgpu"
	echo "    sha256: $(sha_of "$img")"
} >/tmp/policy.yaml
start_agent /tmp/policy.yaml
"$LOADMOD" init "$img"
rc=$?
[ "$rc" -ne "$EPERM" ] || fail "amdgpu ($size bytes) denied"
expect_event 1 '"verdict":"allow"' "\"sha256\":\"$(sha_of "$img")\"" "\"size\":$size" \
	'"hook":"kernel_post_load_data"'
if [ "$f" = "$img" ]; then
	"$LOADMOD" finit "$img"
	[ "$?" -ne "$EPERM" ] || fail "amdgpu denied on finit_module"
	expect_event 1 '"verdict":"allow"' "\"sha256\":\"$(sha_of "$img")\"" '"hook":"kernel_post_read_file"'
fi
expect_event 0 '"verdict":"deny"'
stop_agent
