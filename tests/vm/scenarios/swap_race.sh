# SPDX-License-Identifier: Apache-2.0
# The swap is atomic: while 100+ alternating policies are applied, an allowlisted module loads
# and unloads in a tight loop and an unlisted one is tried in another; both policies list the
# first and neither lists the second, so any other verdict is a window the swap left open.
. /scenarios/lib.sh
dummy=$(modfile dummy)
minix=$(modfile minix)
flag=
is_compressed "$minix" && flag=--compressed
write_policy /tmp/a.yaml enforce "log_allowed: false
autoload:
  default: allow" dummy nlmon
write_policy /tmp/b.yaml dry-run "autoload:
  default: deny" dummy
# B in dry-run would admit minix: keep it enforce but different in everything else.
sed -i 's/^mode: dry-run/mode: enforce/' /tmp/b.yaml
start_agent /tmp/a.yaml
rm -f /tmp/stop /tmp/listed.bad /tmp/unlisted.bad

(
	n=0
	while [ ! -e /tmp/stop ]; do
		"$LOADMOD" finit "$dummy" $flag >/dev/null
		rc=$?
		[ $rc -eq 0 ] || echo "load $n: $rc" >>/tmp/listed.bad
		"$LOADMOD" delete dummy >/dev/null || echo "unload $n" >>/tmp/listed.bad
		n=$((n + 1))
	done
	echo $n >/tmp/listed.count
) &
listed_pid=$!
(
	n=0
	while [ ! -e /tmp/stop ]; do
		"$LOADMOD" finit "$minix" $flag >/dev/null
		rc=$?
		if [ $rc -ne $EPERM ]; then
			echo "try $n: $rc" >>/tmp/unlisted.bad
			"$LOADMOD" delete minix >/dev/null
		fi
		n=$((n + 1))
	done
	echo $n >/tmp/unlisted.count
) &
unlisted_pid=$!

v=2
while [ $v -le 121 ]; do
	if [ $((v % 2)) -eq 0 ]; then src=/tmp/a.yaml; else src=/tmp/b.yaml; fi
	sed "s/^version: 1/version: $v/" "$src" >/tmp/next.yaml
	"$MODGATE" apply /tmp/next.yaml >/dev/null || fail "apply of version $v failed"
	v=$((v + 1))
done
touch /tmp/stop
wait "$listed_pid" "$unlisted_pid"
[ ! -s /tmp/listed.bad ] || fail "allowlisted module got a wrong verdict: $(head /tmp/listed.bad)"
[ ! -s /tmp/unlisted.bad ] || fail "unlisted module admitted: $(head /tmp/unlisted.bad)"
l=$(cat /tmp/listed.count) u=$(cat /tmp/unlisted.count)
[ "$l" -ge 20 ] && [ "$u" -ge 20 ] || fail "loops too short to overlap the swaps: $l and $u"
"$MODGATE" status --json | grep -q '"version": 121' || fail "last policy not in force"
pass "120 swaps; $l listed loads and $u unlisted tries, 0 wrong verdicts"
stop_agent
