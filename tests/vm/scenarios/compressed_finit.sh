# SPDX-License-Identifier: Apache-2.0
# finit_module(MODULE_INIT_COMPRESSED_FILE) on a .ko.xz: exactly one decision and one event per
# load, on every kernel that decompresses in the kernel (docs/design.md, "Compressed modules").
#   6.12: the hooks see only the compressed file, so its hash decides; the payload's alone does
#         not admit it.
#   7.x:  the kernel reads with READING_MODULE_COMPRESSED, then hands the hooks the decompressed
#         payload as READING_MODULE: either hash admits; an unlisted load is reported once, by
#         the payload call, with both hashes.
. /scenarios/lib.sh
f=$(modfile dummy)
is_compressed "$f" || fail "this kernel's modules are not compressed; scenario needs 6.12 or later"
img=$(plain_ko dummy)
file_sha=$(sha_of "$f")
img_sha=$(sha_of "$img")
# A hash listed for nothing here: any file that is not dummy.
other_sha=$(sha_of "$LOADMOD")
[ "$file_sha" != "$img_sha" ] || fail "file and payload hash alike"
major=${KREL%%.*}
if [ "$major" -ge 7 ]; then payload_seen=1; else payload_seen=0; fi
echo "kernel $KREL: payload seen by the hooks: $payload_seen"

# only_listed FILE MODE EXTRA SHA: a policy listing dummy under that one hash.
only_listed() {
	{
		echo "version: 1"
		echo "mode: $2"
		[ -n "$3" ] && printf '%s\n' "$3"
		echo "modules:"
		echo "  - name: dummy"
		echo "    sha256: $4"
	} >"$1"
}

# dummy_events: every module_load event about dummy so far (one decision = one line).
dummy_events() { match_events '"event":"module_load"' '"name":"dummy"'; }

# Both hashes listed (what policy init writes), every decision logged: one allow, by the file.
write_policy /tmp/both.yaml enforce "log_allowed: true" dummy
start_agent /tmp/both.yaml
expect_errno 0 "$LOADMOD" finit "$f" --compressed
loaded dummy || fail "dummy.ko.xz not loaded with MODULE_INIT_COMPRESSED_FILE"
expect_event 1 '"verdict":"allow"' "\"sha256\":\"$file_sha\"" '"compressed":true' '"payload":false'
[ "$(dummy_events)" -eq 1 ] || fail "one load gave $(dummy_events) decisions"
rmmod dummy
stop_agent

# Only the compressed file's hash: admitted at the first (on 6.12 the only) call; the payload call
# on 7.x is the same load and adds nothing.
: >"$EVENTS"
only_listed /tmp/file-only.yaml enforce "log_allowed: true" "$file_sha"
start_agent /tmp/file-only.yaml
expect_errno 0 "$LOADMOD" finit "$f" --compressed
loaded dummy || fail "dummy.ko.xz not admitted by its file hash"
expect_event 1 '"verdict":"allow"' "\"sha256\":\"$file_sha\"" '"listed":true' '"payload":false'
[ "$(dummy_events)" -eq 1 ] || fail "one load gave $(dummy_events) decisions"
rmmod dummy
stop_agent

# Only the payload's hash (what init_module users list).
: >"$EVENTS"
only_listed /tmp/image-only.yaml enforce "log_allowed: true" "$img_sha"
start_agent /tmp/image-only.yaml
if [ "$payload_seen" = 1 ]; then
	expect_errno 0 "$LOADMOD" finit "$f" --compressed
	loaded dummy || fail "dummy.ko.xz not admitted by its payload hash"
	expect_event 1 '"verdict":"allow"' "\"sha256\":\"$file_sha\"" '"payload":true' \
		"\"payload_sha256\":\"$img_sha\"" '"listed":true'
	rmmod dummy
else
	expect_errno $EPERM "$LOADMOD" finit "$f" --compressed
	expect_event 1 '"verdict":"deny"' "\"sha256\":\"$file_sha\"" '"payload":false'
fi
[ "$(dummy_events)" -eq 1 ] || fail "one load gave $(dummy_events) decisions"
stop_agent

# Neither listed: one deny; on 7.x from the payload call, naming both hashes.
: >"$EVENTS"
only_listed /tmp/other.yaml enforce "" "$other_sha"
start_agent /tmp/other.yaml
expect_errno $EPERM "$LOADMOD" finit "$f" --compressed
loaded dummy && fail "unlisted dummy.ko.xz loaded"
if [ "$payload_seen" = 1 ]; then
	expect_event 1 '"verdict":"deny"' '"reason":"not-listed"' "\"sha256\":\"$file_sha\"" \
		'"payload":true' "\"payload_sha256\":\"$img_sha\""
else
	expect_event 1 '"verdict":"deny"' '"reason":"not-listed"' "\"sha256\":\"$file_sha\""
fi
[ "$(dummy_events)" -eq 1 ] || fail "one load gave $(dummy_events) decisions"

# Forced (--ignore-vermagic) and compressed, file listed: refused at the first call, once.
: >"$EVENTS"
stop_agent
start_agent /tmp/file-only.yaml
expect_errno $EPERM "$LOADMOD" finit "$f" --compressed --ignore-vermagic
expect_event 1 '"verdict":"deny"' '"reason":"forced"' "\"sha256\":\"$file_sha\"" '"payload":false'
[ "$(dummy_events)" -eq 1 ] || fail "one forced load gave $(dummy_events) decisions"
stop_agent

# Dry-run, neither listed: the load goes ahead and is reported once as would-deny.
: >"$EVENTS"
only_listed /tmp/dry.yaml dry-run "" "$other_sha"
start_agent /tmp/dry.yaml
expect_errno 0 "$LOADMOD" finit "$f" --compressed
loaded dummy || fail "dry-run refused dummy.ko.xz"
expect_event 1 '"verdict":"would-deny"' "\"sha256\":\"$file_sha\""
[ "$(dummy_events)" -eq 1 ] || fail "one dry-run load gave $(dummy_events) decisions"
rmmod dummy
stop_agent

# The uncompressed payload through plain finit_module is one ordinary read on every kernel.
: >"$EVENTS"
start_agent /tmp/image-only.yaml
expect_errno 0 "$LOADMOD" finit "$img"
loaded dummy || fail "dummy.ko (payload) not admitted by its hash"
expect_event 1 '"verdict":"allow"' "\"sha256\":\"$img_sha\"" '"compressed":false' '"payload":false'
rmmod dummy
stop_agent
