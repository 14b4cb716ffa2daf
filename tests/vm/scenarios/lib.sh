# SPDX-License-Identifier: Apache-2.0
# Shared by every VM scenario; sourced by busybox ash inside the guest.
# Each scenario: builds a policy from the guest's real module files, starts the real agent, drives
# real loads (busybox insmod, kmod modprobe, tests/vm/loadmod.c) and checks verdicts and events.

KREL=$(uname -r)
MODDIR=/lib/modules/$KREL
EVENTS=/tmp/events.jsonl
AGENT_ERR=/tmp/agent.err
AGENT_PID=
MODGATE=${MODGATE:-$(command -v modgate)}
LOADMOD=$(command -v loadmod)

fail() {
	echo "FAIL: $*"
	echo "--- agent stderr ---"
	cat "$AGENT_ERR" 2>/dev/null
	echo "--- events ---"
	cat "$EVENTS" 2>/dev/null
	exit 1
}

pass() { echo "ok: $*"; }

# Path of a module file in the guest's tree, by module name.
modfile() {
	f=$(find "$MODDIR" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" -o -name "$1.ko.gz" | head -n1)
	[ -n "$f" ] || fail "module $1 is not in the initramfs"
	echo "$f"
}

is_compressed() { case "$1" in *.ko) return 1 ;; *) return 0 ;; esac }

# Decompressed image of a module file (what userspace hands init_module).
plain_ko() {
	f=$(modfile "$1")
	out=/tmp/$1.ko
	if is_compressed "$f"; then
		xzcat "$f" >"$out" || fail "cannot decompress $f"
	else
		cp "$f" "$out"
	fi
	echo "$out"
}

sha_of() { "$MODGATE" hash "$1" | cut -d' ' -f1; }

# unsigned_ko NAME: the decompressed image with its appended signature cut off. The kernel loads
# it (tainted) when signatures are not enforced, so it stands for a tampered driver that the
# kernel alone would let in.
unsigned_ko() {
	img=$(plain_ko "$1")
	size=$(wc -c <"$img")
	tail -c 28 "$img" | grep -q "Module signature appended" || fail "$img carries no signature"
	set -- $(od -An -tu1 -j $((size - 32)) -N4 "$img")
	siglen=$((($1 << 24) | ($2 << 16) | ($3 << 8) | $4))
	head -c $((size - 40 - siglen)) "$img" >"/tmp/$(basename "$img" .ko)-unsigned.ko"
	echo "/tmp/$(basename "$img" .ko)-unsigned.ko"
}

# policy_modules NAME... : the modules: section listing both the file's and the decompressed
# image's hash for each module (one for a plain .ko, where they are equal).
policy_modules() {
	echo "modules:"
	for m in "$@"; do
		f=$(modfile "$m")
		echo "  - name: $m"
		echo "    sha256: $(sha_of "$f")"
		if is_compressed "$f"; then
			echo "  - name: $m"
			echo "    sha256: $(sha_of "$(plain_ko "$m")")"
			echo "    note: decompressed image"
		fi
	done
}

# write_policy FILE MODE EXTRA_YAML MODULE... ; EXTRA_YAML is inserted verbatim (may be empty).
write_policy() {
	file=$1 mode=$2 extra=$3
	shift 3
	{
		echo "version: 1"
		echo "mode: $mode"
		[ -n "$extra" ] && printf '%s\n' "$extra"
		policy_modules "$@"
	} >"$file"
}

# trust_setup: a signing key for the scenario, and --trust for every agent it starts from now on
# (tamper protection is only offered to signed policies).
trust_setup() {
	"$MODGATE" keygen -o /tmp/scenario >/dev/null || fail "keygen failed"
	mkdir -p /etc/modgate/trust
	cp /tmp/scenario.public.pem /etc/modgate/trust/scenario.pem
	AGENT_ARGS="$AGENT_ARGS --trust /etc/modgate/trust"
}

# signed FILE [KEY]: signs the policy FILE into FILE.bundle and prints that name.
signed() {
	"$MODGATE" policy sign --key "${2:-/tmp/scenario.private.pem}" "$1" -o "$1.bundle" >/dev/null ||
		fail "cannot sign $1"
	echo "$1.bundle"
}

start_agent() {
	: >"$EVENTS"
	# Truncate here: the child's own redirection may come after our first look for "ready".
	: >"$AGENT_ERR"
	# shellcheck disable=SC2086 # AGENT_ARGS: extra options, word-split on purpose
	"$MODGATE" run ${1:+--policy "$1"} $AGENT_ARGS --events "$EVENTS" 2>"$AGENT_ERR" &
	AGENT_PID=$!
	i=0
	while ! grep -q ready "$AGENT_ERR" 2>/dev/null; do
		kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited before ready"
		i=$((i + 1))
		[ "$i" -lt 600 ] || fail "agent not ready after 60 s"
		sleep 0.1
	done
	pass "agent ready ($(grep ready "$AGENT_ERR"))"
}

# Stops the agent; its pinned programs keep enforcing until disarm_agent.
kill_agent() {
	[ -n "$AGENT_PID" ] || return 0
	kill -s "${1:-TERM}" "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID"
	rc=$?
	[ "${1:-TERM}" != TERM ] || [ "$rc" -eq 0 ] || fail "agent exited with status $rc on SIGTERM"
	AGENT_PID=
}

disarm_agent() {
	"$MODGATE" disarm >/tmp/disarm.out 2>&1 || fail "modgate disarm failed: $(cat /tmp/disarm.out)"
	[ ! -e /sys/fs/bpf/modgate ] || fail "pins left after disarm: $(ls -R /sys/fs/bpf/modgate)"
	grep -q "^  [1-9][0-9]* links* ([1-9][0-9]* programs* detached)" /tmp/disarm.out ||
		fail "disarm does not say it detached anything: $(cat /tmp/disarm.out)"
}

# Scenarios that switch policies start each agent afresh: stop, then remove the pins.
stop_agent() {
	kill_agent
	disarm_agent
}

# status_field NAME: the first "NAME": value in 'modgate status --json' (the policy's fields come
# first, so version and digest are the policy's).
status_field() {
	"$MODGATE" status --json | sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n1
}

# Events are written by the agent asynchronously; wait until N lines match all patterns.
wait_events() {
	want=$1
	shift
	i=0
	while :; do
		n=$(match_events "$@")
		[ "$n" -ge "$want" ] && break
		i=$((i + 1))
		[ "$i" -lt 100 ] || break
		sleep 0.1
	done
	echo "$n"
}

match_events() {
	lines=$(cat "$EVENTS")
	for pat in "$@"; do
		lines=$(printf '%s\n' "$lines" | grep -F -- "$pat")
	done
	[ -n "$lines" ] && printf '%s\n' "$lines" | wc -l || echo 0
}

# expect_event COUNT PATTERN... : exactly COUNT event lines contain every pattern.
expect_event() {
	want=$1
	shift
	n=$(wait_events "$want" "$@")
	sleep 0.3
	n=$(match_events "$@")
	[ "$n" -eq "$want" ] || fail "expected $want event(s) matching $*, found $n"
	pass "$want event(s) matching $*"
}

loaded() { grep -q "^$1 " /proc/modules; }

unload() { loaded "$1" && rmmod "$1" 2>/dev/null; true; }

# expect_errno ERRNO CMD... : loadmod exits with the errno (0 = success).
expect_errno() {
	want=$1
	shift
	"$@"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want"
	pass "'$*' -> $rc"
}

EPERM=1

# --- tamper protection (tamper.sh, tamper_off.sh) ---
BPFTOOL=$(command -v bpftool)
INTRUDER=$(command -v intruder)

# expect_refused ERRTEXT DESC CMD... : CMD fails and its output says ERRTEXT (the errno's text).
expect_refused() {
	errtext=$1 desc=$2
	shift 2
	out=$("$@" 2>&1) && fail "$desc succeeded: $out"
	case "$out" in
	*"$errtext"*) ;;
	*) fail "$desc failed, but not with '$errtext': $out" ;;
	esac
	pass "$desc refused: $(printf '%s\n' "$out" | tail -n1)"
}

# expect_done DESC CMD... : CMD succeeds.
expect_done() {
	desc=$1
	shift
	out=$("$@" 2>&1) || fail "$desc failed: $out"
	pass "$desc done"
}

# expect_tamper VERDICT OPERATION [PATTERN...]: at least one tamper event of that kind.
expect_tamper() {
	v=$1 op=$2
	shift 2
	# Three rounds of wait_events: a loaded host (TCG) can delay the agent's writes for seconds.
	for _ in 1 2 3; do
		n=$(wait_events 1 '"event":"tamper"' "\"verdict\":\"$v\"" "\"operation\":\"$op\"" "$@")
		[ "$n" -ge 1 ] && break
	done
	[ "$n" -ge 1 ] || fail "no $v tamper event for $op $*"
	pass "$n $v tamper event(s) for $op"
}

# The tag directory holding modgate's pins.
pin_tag_dir() { ls -d /sys/fs/bpf/modgate/*/ | head -n1 | sed 's,/$,,'; }

# Ids from bpftool's listing: map_id NAME, the links' ids.
map_id() { "$BPFTOOL" map show | sed -n "s/^\([0-9]*\): .* name $1 .*/\1/p" | head -n1; }
link_ids() { "$BPFTOOL" link show | sed -n 's/^\([0-9]*\): .*/\1/p'; }

# hex_bytes HEX: "hex aa bb ..." as bpftool wants DATA.
hex_bytes() { echo "hex $(echo "$1" | sed 's/../& /g')"; }

# An attacker's allowlist: a policy map of the same shape as modgate's, holding MODULE's hash and a
# config record (enforce, version 999), pinned at /sys/fs/bpf/evil.
make_evil_allowlist() {
	"$BPFTOOL" map create /sys/fs/bpf/evil type hash key 32 value 64 entries 4 name evil ||
		fail "cannot create the attacker's map"
	zeros64=$(printf '%0128d' 0)
	# shellcheck disable=SC2046 # the byte lists are meant to split
	"$BPFTOOL" map update pinned /sys/fs/bpf/evil key $(hex_bytes "$1") value $(hex_bytes "$zeros64") ||
		fail "cannot fill the attacker's map"
	cfgkey=ff6d6f6467617465$(printf '01000000%040d' 0)
	cfgval=e703000000000000$(printf '%064d' 0)010000000400000001000000$(printf '%024d' 0)
	# shellcheck disable=SC2046
	"$BPFTOOL" map update pinned /sys/fs/bpf/evil key $(hex_bytes "$cfgkey") value $(hex_bytes "$cfgval") ||
		fail "cannot write the attacker's config"
}

# A shared library the agent has mapped (writing it would change the agent's code).
agent_library() { sed -n 's,.* \(/[^ ]*\.so[^ ]*\)$,\1,p' "/proc/$AGENT_PID/maps" | head -n1; }

# start_intruder: the fmod_ret program that lets every module past the LSMs; sets INTRUDER_PID.
start_intruder() {
	# Emptied here: the child truncates the file only once it runs, and a "ready" left by an
	# earlier intruder would otherwise be taken for this one's.
	: >/tmp/intruder.out
	"$INTRUDER" >/tmp/intruder.out 2>&1 &
	INTRUDER_PID=$!
	i=0
	while ! grep -q ready /tmp/intruder.out; do
		kill -0 "$INTRUDER_PID" 2>/dev/null || return 1
		i=$((i + 1))
		[ "$i" -lt 300 ] || fail "intruder not ready: $(cat /tmp/intruder.out)"
		sleep 0.1
	done
}
