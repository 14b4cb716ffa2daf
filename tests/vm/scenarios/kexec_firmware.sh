# SPDX-License-Identifier: Apache-2.0
# Scenario: the policy's firmware: and kexec: sections (docs/policy.md). Real firmware requests
# through Debian's test_firmware module (direct load from /lib/firmware and the sysfs fallback),
# and kexec_file_load of the guest's own Debian kernel image; nothing is ever executed by kexec.
# Each section admits only its own kind, and module enforcement stays as it was throughout.
. /scenarios/lib.sh

FWDIR=/lib/firmware
TFW=/sys/devices/virtual/misc/test_firmware
KERNEL=/kexec/vmlinuz
ENODEV=19

[ -f "$KERNEL" ] || fail "no kernel image at $KERNEL (pass the package's vmlinuz with --file)"
mkdir -p "$FWDIR"
printf 'modgate test firmware, the listed one\n' >"$FWDIR/mg-good.bin"
printf 'modgate test firmware, never listed\n' >"$FWDIR/mg-other.bin"
printf 'modgate partial firmware, listed\n' >"$FWDIR/mg-part.bin"
# The listed blob with its last byte changed.
cp "$FWDIR/mg-good.bin" "$FWDIR/mg-flipped.bin"
printf 'X' | dd of="$FWDIR/mg-flipped.bin" bs=1 seek=$(($(wc -c <"$FWDIR/mg-good.bin") - 2)) \
	conv=notrunc 2>/dev/null
cmp -s "$FWDIR/mg-good.bin" "$FWDIR/mg-flipped.bin" && fail "byte flip did not change the blob"
# A listed module's bytes offered as firmware.
cp "$(plain_ko dummy)" "$FWDIR/mg-dummy.bin"
# The fallback blob exists only in /tmp, so the direct load misses and the sysfs loader runs.
printf 'modgate fallback firmware\n' >/tmp/mg-fallback.bin
# A small initramfs for kexec (any bytes: the kernel only stages it) and an unlisted one.
printf 'modgate kexec initramfs\n' >/tmp/initrd.img
printf 'modgate kexec initramfs, never listed\n' >/tmp/initrd-other.img
# The guest's kernel with one byte changed near its end (the appended signature area).
cp "$KERNEL" /tmp/vmlinuz-flipped
ksize=$(wc -c <"$KERNEL")
printf 'X' | dd of=/tmp/vmlinuz-flipped bs=1 seek=$((ksize - 100)) conv=notrunc 2>/dev/null
cmp -s "$KERNEL" /tmp/vmlinuz-flipped && fail "byte flip did not change the kernel image"

# minix's bytes, listed under firmware: only; they must not load as a module.
minix_file=$(modfile minix)
minix_plain=$(plain_ko minix)

# sections [ENTRY]: the firmware: and kexec: sections, with ENTRY ("{name: .., sha256: ..}") as
# one more firmware entry.
sections() {
	echo "firmware:"
	[ -z "${1:-}" ] || echo "  - $1"
	echo "  - {name: mg-good.bin, sha256: $(sha_of "$FWDIR/mg-good.bin")}"
	echo "  - {name: mg-fallback.bin, sha256: $(sha_of /tmp/mg-fallback.bin)}"
	echo "  - {name: mg-part.bin, sha256: $(sha_of "$FWDIR/mg-part.bin")}"
	echo "  - {name: minix-as-firmware, sha256: $(sha_of "$minix_file")}"
	if [ "$(sha_of "$minix_file")" != "$(sha_of "$minix_plain")" ]; then
		echo "  - {name: minix-as-firmware-plain, sha256: $(sha_of "$minix_plain")}"
	fi
	echo "kexec:"
	echo "  - {name: vmlinuz, sha256: $(sha_of "$KERNEL")}"
	echo "  - {name: initrd.img, sha256: $(sha_of /tmp/initrd.img)}"
}

# kind_is KIND VERDICT N: the agent's Prometheus text counts N decisions of that kind and verdict.
kind_is() {
	n=$("$MODGATE" status --prometheus |
		sed -n "s/^modgate_load_decisions_total{kind=\"$1\",verdict=\"$2\"} \([0-9]*\)$/\1/p")
	[ "$n" = "$3" ] || fail "expected $3 $1 decisions with verdict $2, counted '$n'"
	pass "$3 $1 $2 decision(s) counted"
}

# request_fw ERRNO NAME: test_firmware's synchronous request_firmware(NAME).
request_fw() { expect_errno "$1" "$LOADMOD" write "$TFW/trigger_request" "$2"; }

# partial_fw: request_partial_firmware_into_buf of the first 8 bytes of mg-part.bin, through
# test_firmware's batched trigger; prints the request's result (0 or -errno). Its own file: the
# kernel refuses partial requests (EOPNOTSUPP) of a name the device has loaded whole before.
partial_fw() {
	printf mg-part.bin >"$TFW/config_name"
	echo 1 >"$TFW/config_num_requests"
	echo 1 >"$TFW/config_into_buf"
	echo 1 >"$TFW/config_partial"
	echo 8 >"$TFW/config_buf_size"
	echo 0 >"$TFW/config_file_offset"
	"$LOADMOD" write "$TFW/trigger_batched_requests" 1 >/dev/null ||
		fail "the batched trigger failed"
	cat "$TFW/test_result"
	echo 1 >"$TFW/reset"
}

# platform_fw ERRNO: firmware_request_platform() of a name that is not on disk, answered from
# the EFI embedded-firmware table, where test_firmware puts its own test blob.
platform_fw() { expect_errno "$1" "$LOADMOD" write "$TFW/trigger_request_platform" mg-platform.bin; }

# The firmware test_firmware holds now is exactly FILE.
holds() {
	cat /dev/test_firmware >/tmp/held.bin
	cmp -s /tmp/held.bin "$1" || fail "test_firmware does not hold $1"
	pass "test_firmware holds $1"
}

holds_nothing() {
	n=$(cat /dev/test_firmware | wc -c)
	[ "$n" -eq 0 ] || fail "test_firmware holds $n bytes of firmware after a refused request"
}

# fallback_fw ERRNO: request mg-fallback.bin with the custom (sysfs) fallback and feed it the
# blob through /sys/class/firmware, as a userspace helper would. ERRNO is the trigger's result.
fallback_fw() {
	want=$1
	rm -f /tmp/fallback.rc
	("$LOADMOD" write "$TFW/trigger_custom_fallback" mg-fallback.bin >/tmp/fallback.out
	echo $? >/tmp/fallback.rc) &
	fbpid=$!
	i=0
	while [ ! -e /sys/class/firmware/mg-fallback.bin/loading ]; do
		i=$((i + 1))
		[ "$i" -lt 300 ] || fail "the sysfs fallback interface never appeared"
		sleep 0.1
	done
	echo 1 >/sys/class/firmware/mg-fallback.bin/loading
	cat /tmp/mg-fallback.bin >/sys/class/firmware/mg-fallback.bin/data
	# The kernel judges the blob when loading ends; a refusal fails this write with its errno.
	"$LOADMOD" write /sys/class/firmware/mg-fallback.bin/loading 0 >/tmp/fallback.end
	end_rc=$?
	# Not a bare wait: the agent is a background job of this shell too.
	wait "$fbpid"
	rc=$(cat /tmp/fallback.rc)
	[ "$rc" -eq "$want" ] ||
		fail "custom fallback exited $rc, expected $want: $(cat /tmp/fallback.out /tmp/fallback.end)"
	pass "custom fallback -> $rc (loading=0 -> $end_rc)"
}

modprobe test_firmware || fail "cannot load test_firmware before modgate runs"
[ -e "$TFW/trigger_request" ] || fail "test_firmware has no $TFW/trigger_request"
# A short fallback timeout: a fallback that is never fed should not hold a test for a minute.
echo 10 >/sys/class/firmware/timeout

# --- 1. enforce, with both sections ---
write_policy /tmp/policy.yaml enforce "$(sections)" dummy test_firmware
start_agent /tmp/policy.yaml
[ "$(status_field firmware)" = true ] || fail "status does not say firmware is judged"
[ "$(status_field kexec)" = true ] || fail "status does not say kexec is judged"
"$MODGATE" status | grep -q "^judged *modules, firmware, kexec images$" ||
	fail "the status table does not list firmware and kexec as judged: $("$MODGATE" status)"

request_fw 0 mg-good.bin
holds "$FWDIR/mg-good.bin"
expect_event 0 '"kind":"firmware"' '"name":"mg-good.bin"'
# Unlisted: the loader tries every firmware directory and returns the last directory's error,
# which for a file in /lib/firmware is modgate's EPERM.
request_fw $EPERM mg-other.bin
holds_nothing
expect_event 1 '"kind":"firmware"' '"verdict":"deny"' '"reason":"not-listed"' \
	'"hook":"kernel_post_read_file"' '"name":"mg-other.bin"' '"path":"/lib/firmware/mg-other.bin"' \
	"\"sha256\":\"$(sha_of "$FWDIR/mg-other.bin")\""
request_fw $EPERM mg-flipped.bin
expect_event 1 '"kind":"firmware"' '"verdict":"deny"' "\"sha256\":\"$(sha_of "$FWDIR/mg-flipped.bin")\""
# dummy is listed under modules: only; as firmware its bytes are unknown.
request_fw $EPERM mg-dummy.bin
expect_event 1 '"kind":"firmware"' '"verdict":"deny"' '"listed":false' '"name":"mg-dummy.bin"'
request_fw 0 mg-good.bin
holds "$FWDIR/mg-good.bin"

# The sysfs fallback hands the blob to kernel_post_load_data.
fallback_fw 0
holds /tmp/mg-fallback.bin
printf 'modgate fallback firmware, changed\n' >/tmp/mg-fallback.bin
fallback_fw $ENODEV
[ "$end_rc" -eq $EPERM ] || fail "writing loading=0 was not refused with EPERM: $(cat /tmp/fallback.end)"
holds_nothing
expect_event 1 '"kind":"firmware"' '"verdict":"deny"' '"hook":"kernel_post_load_data"' '"name":"blob"'
printf 'modgate fallback firmware\n' >/tmp/mg-fallback.bin

# A partial read never reaches the post hook, so it is refused before the read even for a listed
# file; the loader reports the refusal as the request's result.
r=$(partial_fw)
[ "$r" = -$EPERM ] || fail "a partial read of a judged kind was not refused: $r"
expect_event 1 '"kind":"firmware"' '"verdict":"deny"' '"reason":"not-hashable"' \
	'"hook":"kernel_read_file"' '"name":"mg-part.bin"'
# EFI platform firmware arrives through kernel_post_load_data, described as "platform".
platform_fw $EPERM
expect_event 1 '"kind":"firmware"' '"verdict":"deny"' '"hook":"kernel_post_load_data"' \
	'"name":"platform"'

# minix's hash is in firmware: only: as a module it is not listed, on both load paths.
expect_errno $EPERM "$LOADMOD" finit "$minix_file"
expect_errno $EPERM "$LOADMOD" init "$minix_plain"
loaded minix && fail "minix loaded on the strength of a firmware entry"
if [ "$(sha_of "$minix_file")" = "$(sha_of "$minix_plain")" ]; then
	expect_event 2 '"kind":"module"' '"verdict":"deny"' '"listed":false' "\"sha256\":\"$(sha_of "$minix_file")\""
else
	expect_event 1 '"kind":"module"' '"verdict":"deny"' '"listed":false' "\"sha256\":\"$(sha_of "$minix_file")\""
	expect_event 1 '"kind":"module"' '"verdict":"deny"' '"listed":false' "\"sha256\":\"$(sha_of "$minix_plain")\""
fi
# Module enforcement as ever: unlisted denied, listed loads.
expect_errno $EPERM "$LOADMOD" finit "$(modfile nlmon)"
expect_errno 0 "$LOADMOD" finit "$(plain_ko dummy)"
unload dummy

# kexec_file_load of the listed kernel and initramfs stages the image; unload drops it again.
expect_errno 0 "$LOADMOD" kexec "$KERNEL" /tmp/initrd.img "console=ttyS0"
[ "$(cat /sys/kernel/kexec_loaded)" = 1 ] || fail "kexec_loaded is not 1 after a successful load"
expect_errno 0 "$LOADMOD" kexec-unload
[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || fail "the kexec image is still loaded after unload"
expect_errno $EPERM "$LOADMOD" kexec /tmp/vmlinuz-flipped /tmp/initrd.img
expect_event 1 '"kind":"kexec_image"' '"verdict":"deny"' '"reason":"not-listed"' \
	"\"sha256\":\"$(sha_of /tmp/vmlinuz-flipped)\"" '"name":"vmlinuz-flipped"'
expect_errno $EPERM "$LOADMOD" kexec "$KERNEL" /tmp/initrd-other.img
expect_event 1 '"kind":"kexec_initramfs"' '"verdict":"deny"' '"name":"initrd-other.img"'
# A firmware entry does not admit the same bytes as an initramfs.
expect_errno $EPERM "$LOADMOD" kexec "$KERNEL" "$FWDIR/mg-good.bin"
expect_event 1 '"kind":"kexec_initramfs"' '"verdict":"deny"' '"name":"mg-good.bin"'
[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || fail "a refused kexec left an image loaded"
# The legacy syscall copies segments from user memory: nothing to hash, so refused outright.
expect_errno $EPERM "$LOADMOD" kexec-legacy
expect_event 1 '"kind":"kexec_image"' '"verdict":"deny"' '"reason":"not-hashable"' \
	'"hook":"kernel_load_data"'
# Every decision above is counted by kind, and the kinds add up to the content hooks' counters.
kind_is firmware allow 3
kind_is firmware deny 6
kind_is kexec_image allow 3
kind_is kexec_image deny 2
kind_is kexec_initramfs allow 1
kind_is kexec_initramfs deny 2
by_hook=$("$MODGATE" status --prometheus | sed -n '/^modgate_decisions_total{hook="kernel_module_request"/d; s/^modgate_decisions_total{[^}]*} \([0-9]*\)$/\1/p' | awk '{s += $1} END {print s + 0}')
by_kind=$("$MODGATE" status --prometheus | sed -n 's/^modgate_load_decisions_total{[^}]*} \([0-9]*\)$/\1/p' | awk '{s += $1} END {print s + 0}')
[ "$by_hook" -gt 0 ] && [ "$by_hook" -eq "$by_kind" ] ||
	fail "load decisions by hook ($by_hook) and by kind ($by_kind) do not add up"
pass "$by_kind load decisions counted by hook and by kind"
stop_agent

# --- 2. enforce without the sections: firmware and kexec are the kernel's business ---
write_policy /tmp/policy.yaml enforce "" dummy test_firmware
start_agent /tmp/policy.yaml
[ "$(status_field firmware)" = false ] || fail "status says firmware is judged without a section"
request_fw 0 mg-other.bin
holds "$FWDIR/mg-other.bin"
fallback_fw 0
r=$(partial_fw)
[ "$r" = 0 ] || fail "a partial read failed with firmware not judged: $r"
platform_fw 0
expect_errno 0 "$LOADMOD" kexec "$KERNEL" /tmp/initrd-other.img
expect_errno 0 "$LOADMOD" kexec-unload
expect_errno 0 "$LOADMOD" kexec-legacy
expect_event 0 '"kind":"firmware"'
expect_event 0 '"kind":"kexec_image"'
expect_event 0 '"kind":"kexec_initramfs"'
expect_errno $EPERM "$LOADMOD" finit "$(modfile nlmon)"
stop_agent

# --- 3. enforce with empty sections: no firmware and no kexec at all ---
write_policy /tmp/policy.yaml enforce "$(printf 'firmware: []\nkexec: []')" dummy test_firmware
start_agent /tmp/policy.yaml
request_fw $EPERM mg-good.bin
expect_errno $EPERM "$LOADMOD" kexec "$KERNEL" /tmp/initrd.img
expect_event 1 '"kind":"firmware"' '"verdict":"deny"' '"name":"mg-good.bin"'
expect_event 1 '"kind":"kexec_image"' '"verdict":"deny"' '"reason":"not-listed"'
stop_agent

# --- 4. dry-run with the sections: everything goes through, reported as would-deny ---
write_policy /tmp/policy.yaml dry-run "$(sections)" dummy test_firmware
start_agent /tmp/policy.yaml
request_fw 0 mg-other.bin
holds "$FWDIR/mg-other.bin"
expect_event 1 '"kind":"firmware"' '"verdict":"would-deny"' '"name":"mg-other.bin"' '"mode":"dry-run"'
request_fw 0 mg-good.bin
expect_event 0 '"kind":"firmware"' '"name":"mg-good.bin"'
expect_errno 0 "$LOADMOD" kexec "$KERNEL" /tmp/initrd-other.img
expect_event 1 '"kind":"kexec_initramfs"' '"verdict":"would-deny"' '"name":"initrd-other.img"'
expect_errno 0 "$LOADMOD" kexec-unload
expect_errno 0 "$LOADMOD" kexec-legacy
expect_event 1 '"kind":"kexec_image"' '"verdict":"would-deny"' '"reason":"not-hashable"'
expect_errno 0 "$LOADMOD" finit "$(plain_ko nlmon)"
expect_event 1 '"kind":"module"' '"verdict":"would-deny"' '"name":"nlmon"'
r=$(partial_fw)
[ "$r" = 0 ] || fail "a partial read failed in dry-run: $r"
expect_event 1 '"kind":"firmware"' '"verdict":"would-deny"' '"reason":"not-hashable"'
platform_fw 0
expect_event 1 '"kind":"firmware"' '"verdict":"would-deny"' '"name":"platform"'
# The kernel's own hash of the platform blob, as dry-run reported it: listed, it is admitted.
platform_sha=$(grep -F '"name":"platform"' "$EVENTS" | sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p' | head -n1)
[ -n "$platform_sha" ] || fail "the platform firmware event has no hash"
stop_agent

# --- 5. enforce, the platform blob listed by the hash dry-run reported ---
write_policy /tmp/policy.yaml enforce "$(sections "{name: test-platform-blob, sha256: $platform_sha}")" \
	dummy test_firmware
start_agent /tmp/policy.yaml
platform_fw 0
expect_event 0 '"kind":"firmware"'
request_fw $EPERM mg-other.bin
stop_agent
