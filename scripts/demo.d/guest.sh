# SPDX-License-Identifier: Apache-2.0
# The demo's story, run inside the guest (dash); printed lines start with "==", "$ " or two spaces
# so the host can filter out kernel messages.
EVENTS=/tmp/events.jsonl
say() { echo "== $*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }
# loads FROM: one short line per module decision from line FROM of the decision events (other
# records, such as policy_apply, left out): verdict, what, reason, name, hash prefix.
loads() {
	grep -E '"event":"module_(load|request)"' "$EVENTS" | sed -n "$1,\$p" | sed -E \
		's/.*"event":"([^"]*)".*"verdict":"([^"]*)".*"reason":"([^"]*)".*/\2 \1 \3|&/' |
		while IFS='|' read -r head line; do
			name=$(echo "$line" | sed -nE 's/.*"name":"([^"]*)".*/\1/p')
			sha=$(echo "$line" | sed -nE 's/.*"sha256":"(.{16}).*/\1/p')
			echo "  event: $head ${name:+name=$name }${sha:+sha256=$sha...}"
		done
}
# Hashes shortened to their first 16 digits, so that every line fits an 80-column terminal.
short() { sed -E 's/([0-9a-f]{16})[0-9a-f]{48}/\1.../g'; }
start_agent() {
	: >/tmp/agent.err
	modgate run --policy "$1" --events "$EVENTS" 2>/tmp/agent.err &
	AGENT=$!
	while ! grep -q ready /tmp/agent.err; do
		kill -0 "$AGENT" 2>/dev/null || { sed 's/^/  /' /tmp/agent.err; echo "FAIL: agent did not start"; exit 1; }
		sleep 0.1
	done
	echo "  modgate run: ready (programs attached and pinned, events in $EVENTS)"
}

say "1. A policy generated from this kernel's module tree (dry-run by default)"
mkdir -p /etc/modgate
cd "/lib/modules/$(uname -r)"
show modgate policy init --from . -o /etc/modgate/policy.yaml
cd /
show modgate policy show /etc/modgate/policy.yaml
: >"$EVENTS"
start_agent /etc/modgate/policy.yaml

say "2. Dry-run: a module not in the tree (a stand-in rootkit) still loads..."
rootkit=$(ls /rk/*)
show insmod "$rootkit"
grep -q '^minix ' /proc/modules && echo "  loaded: minix is in /proc/modules"
sleep 0.5
say "   ...but modgate reports what enforce mode would have denied:"
loads 1
rmmod minix
say "   An operator reviews what dry-run saw (modgate policy suggest):"
cd /etc/modgate && ln -sf "$EVENTS" events.jsonl
printf '$ %s\n' "modgate policy suggest --events events.jsonl --policy policy.yaml -o new.yaml"
modgate policy suggest --events events.jsonl --policy policy.yaml -o new.yaml 2>&1 |
	grep -E 'denied loads|^  [a-z]|^\+ ' | short | sed 's/^/  /'
cd /

say "3. Switch to enforce (and deny autoload of the nlmon link type), live"
sed -e 's/^version: 1/version: 2/' -e 's/^mode: dry-run/mode: enforce/' \
	-e 's/^  deny: \[\]/  deny: ["rtnl-link-nlmon"]/' /etc/modgate/policy.yaml >/etc/modgate/enforce.yaml
show modgate policy diff /etc/modgate/policy.yaml /etc/modgate/enforce.yaml
n=$(($(grep -Ec '"event":"module_(load|request)"' "$EVENTS") + 1))
show modgate apply /etc/modgate/enforce.yaml
say "   The same load now fails:"
show insmod "$rootkit"
say "   An allowlisted module still loads:"
show modprobe dummy && grep -q '^dummy ' /proc/modules && echo "  loaded: dummy"
say "   The kernel asks for nlmon (ip link add ... type nlmon): autoload denied:"
show ip link add demo0 type nlmon
say "   A forced load of an allowlisted module (modprobe -f) is refused:"
rmmod dummy
show modprobe -f dummy
sleep 0.5
loads "$n"
say "4. What the agent reports (modgate status):"
show modgate status
say "   The same as Prometheus metrics (also written by run --metrics-file):"
printf '$ %s\n' "modgate status --prometheus | grep -E 'enforcing|version|post_read.*deny'"
modgate status --prometheus | grep -E '^modgate_(enforcing|policy_version|decisions_total.*post_read.*deny)' |
	sed 's/^/  /'
say "5. Killing the agent does not stop enforcement (the programs are pinned):"
kill -s KILL "$AGENT"
wait "$AGENT" 2>/dev/null
show insmod "$rootkit"
say "   'modgate disarm' is the one way to remove it:"
show modgate disarm
show insmod "$rootkit"
echo "ok: demo finished"
