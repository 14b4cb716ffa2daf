# SPDX-License-Identifier: Apache-2.0
# --watch follows a directory the way Kubernetes updates a ConfigMap volume (a new timestamped
# directory, then the ..data symlink swapped by rename) and the way editors and config management
# replace a file (write a temporary file, rename it over). Each new version takes effect; an
# invalid or older file is refused and changes nothing.
. /scenarios/lib.sh
minix=$(modfile minix)
flag=
is_compressed "$minix" && flag=--compressed
version() { status_field version; }
wait_version() {
	i=0
	while [ "$(version)" != "$1" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "version $1 not in force after 10 s (now $(version))"
		sleep 0.1
	done
}

# The ConfigMap layout: policy.yaml -> ..data/policy.yaml, ..data -> ..2026_11_26_v1
mkdir -p /etc/cm/..2026_11_26_v1
write_policy /etc/cm/..2026_11_26_v1/policy.yaml enforce "" dummy
ln -s ..2026_11_26_v1 /etc/cm/..data
ln -s ..data/policy.yaml /etc/cm/policy.yaml
AGENT_ARGS="--watch /etc/cm"
start_agent ""
[ "$(version)" = 1 ] || fail "agent did not start with the watched policy"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag

mkdir /etc/cm/..2026_11_26_v2
write_policy /etc/cm/..2026_11_26_v2/policy.yaml enforce "" dummy minix
sed -i 's/^version: 1/version: 2/' /etc/cm/..2026_11_26_v2/policy.yaml
ln -s ..2026_11_26_v2 /etc/cm/..data_tmp
mv -T /etc/cm/..data_tmp /etc/cm/..data
wait_version 2
expect_errno 0 "$LOADMOD" finit "$minix" $flag
rmmod minix
pass "ConfigMap-style ..data swap applied version 2"

# Editor / config-management style: write a temporary file, rename it over (here over the
# ConfigMap's symlink, which the rename replaces by a plain file in one step).
write_policy /etc/cm/policy.yaml.tmp enforce "" dummy
sed -i 's/^version: 1/version: 3/' /etc/cm/policy.yaml.tmp
mv -T /etc/cm/policy.yaml.tmp /etc/cm/policy.yaml
wait_version 3
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
pass "rename-over applied version 3"

# A broken file dropped in place (truncated mid-entry) is refused; the policy stays.
head -c 60 /etc/cm/..2026_11_26_v2/policy.yaml | sed 's/^version: 2/version: 4/' >/etc/cm/policy.yaml.tmp
mv /etc/cm/policy.yaml.tmp /etc/cm/policy.yaml
sleep 2
[ "$(version)" = 3 ] || fail "a truncated policy changed the version to $(version)"
expect_errno $EPERM "$LOADMOD" finit "$minix" $flag
expect_event 1 '"event":"policy_apply"' '"result":"refused"' '"source":"watch"'
pass "truncated file refused, version 3 kept"
stop_agent
