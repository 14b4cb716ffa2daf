# SPDX-License-Identifier: Apache-2.0
# Whole tree (vm.<kernel>.whole_tree.K): the policy `modgate policy init` generates from the module
# tree in the VM, switched to enforce, admits every module of this VM's share of that tree
# (/whole_tree.list, paths relative to $MODDIR) through both of kmod's load paths:
#   finit  finit_module on the file as on disk: a .ko.xz with MODULE_INIT_COMPRESSED_FILE (kmod >= 31,
#          in-kernel decompression), a plain .ko as it is
#   init   init_module on the decompressed image (kmod <= 30 decompresses a .ko.xz in userspace;
#          Debian 12's modprobe does) or on the plain .ko
# Loading thousands of real drivers into one emulated kernel is not workable, so the stopper
# (tests/vm/stopper.bpf.c), attached before the agent, ends every load modgate admits with ENOKEY
# right after modgate's verdict and before any module code runs. Every load must therefore exit
# 126; EPERM (1) means modgate denied a module of its own tree, and anything else means the load
# did not go through modgate's verdict as this test assumes. A tampered copy at the end must
# still be denied with EPERM, so the stopper provably does not mask denials.
. /scenarios/lib.sh
LIST=/whole_tree.list
ENOKEY=126
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ -s "$LIST" ] || fail "no module list $LIST in the initramfs"
total=$(wc -l <"$LIST")
echo "whole tree: $total modules to load of $(find "$MODDIR" -name '*.ko*' | wc -l) in $MODDIR"

t=$(now)
"$MODGATE" policy init --from "$MODDIR" --mode enforce -o /tmp/policy.yaml 2>/tmp/init.err ||
	fail "policy init failed: $(cat /tmp/init.err)"
grep -q '^mode: enforce$' /tmp/policy.yaml || fail "generated policy is not in enforce mode"
pass "$(tail -n1 /tmp/init.err) in $(since "$t") s"

# Before the agent: BPF LSM programs of one hook run newest attachment first (stopper.bpf.c).
stopper >/tmp/stopper.out 2>&1 &
STOPPER_PID=$!
i=0
while ! grep -q '^stopper: ready$' /tmp/stopper.out 2>/dev/null; do
	kill -0 "$STOPPER_PID" 2>/dev/null || fail "stopper exited: $(cat /tmp/stopper.out)"
	i=$((i + 1))
	[ "$i" -lt 300 ] || fail "stopper not ready after 30 s"
	sleep 0.1
done
pass "stopper attached"
start_agent /tmp/policy.yaml

# One path: loadmod's exit status must be ENOKEY; any other is recorded with the module's name.
bad=0
expect_enokey() {
	path=$1 rel=$2
	shift 2
	"$LOADMOD" "$@" </dev/null >/tmp/loadmod.out 2>&1
	rc=$?
	[ "$rc" -eq "$ENOKEY" ] && return 0
	bad=$((bad + 1))
	echo "FAIL: $path $rel: loadmod exited $rc, expected $ENOKEY: $(cat /tmp/loadmod.out)"
	return 1
}

finit_ok=0 init_ok=0 n=0
t=$(now)
while read -r rel <&3; do
	f=$MODDIR/$rel
	[ -f "$f" ] || fail "$rel is listed but not in the initramfs"
	n=$((n + 1))
	last=$f
	case "$f" in
	*.ko)
		expect_enokey finit "$rel" finit "$f" && finit_ok=$((finit_ok + 1))
		expect_enokey init "$rel" init "$f" && init_ok=$((init_ok + 1))
		;;
	*.ko.xz)
		expect_enokey finit "$rel" finit "$f" --compressed && finit_ok=$((finit_ok + 1))
		xzcat "$f" >/tmp/image.ko || fail "cannot decompress $rel"
		expect_enokey init "$rel" init /tmp/image.ko && init_ok=$((init_ok + 1))
		rm -f /tmp/image.ko
		;;
	*) fail "$rel: neither .ko nor .ko.xz" ;;
	esac
	[ $((n % 250)) -ne 0 ] || echo "progress: $n/$total in $(since "$t") s"
done 3<"$LIST"
echo "loads: $n modules in $(since "$t") s; finit: $finit_ok ENOKEY; init: $init_ok ENOKEY; other: $bad"
[ "$n" -eq "$total" ] || fail "went through $n of $total listed modules"
[ "$bad" -eq 0 ] || fail "$bad loads did not end with modgate's admission (above)"
pass "all $total modules admitted through finit_module ($finit_ok) and init_module ($init_ok)"
expect_event 0 '"verdict":"deny"'
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died during the run"

# Control: one byte more and the same module is not on the allowlist, stopper or not.
f=$last
cp "$f" /tmp/tampered
printf x >>/tmp/tampered
denials=2
if is_compressed "$f"; then
	if [ "${KREL%%.*}" -ge 7 ]; then
		# 7.x hands the hooks the decompressed payload too, and xz ignores the byte after its
		# stream: the code that would load is the listed payload, which admits it
		# (docs/design.md, "Compressed modules"); the stopper then ends the load.
		expect_errno "$ENOKEY" "$LOADMOD" finit /tmp/tampered --compressed
		denials=1
	else
		expect_errno "$EPERM" "$LOADMOD" finit /tmp/tampered --compressed
	fi
	xzcat "$f" >/tmp/tampered.ko || fail "cannot decompress $f"
	printf x >>/tmp/tampered.ko
	expect_errno "$EPERM" "$LOADMOD" init /tmp/tampered.ko
else
	expect_errno "$EPERM" "$LOADMOD" finit /tmp/tampered
	expect_errno "$EPERM" "$LOADMOD" init /tmp/tampered
fi
expect_event "$denials" '"verdict":"deny"' '"reason":"not-listed"'
kill "$STOPPER_PID"
