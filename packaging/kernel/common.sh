# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
# Shared by the kernel hooks (postinst.d/initramfs-modgate, postrm.d/modgate; docs/rollout.md).
# Sourced; installed as /usr/share/modgate/kernel-hook.sh. A hook never fails the kernel
# package: apt's run-parts would stop the install halfway. Every refusal is a W: line in apt's
# output instead.

MODGATE=${MODGATE:-/usr/sbin/modgate}
MODGATE_CONF=${MODGATE_CONF:-/etc/modgate/modgate.conf}
MODGATE_MODULES=${MODGATE_MODULES:-/lib/modules}
MODGATE_DPKG_ADMINDIR=${MODGATE_DPKG_ADMINDIR:-/var/lib/dpkg}

warn() { echo "W: modgate: $*" >&2; }
say() { echo "modgate: $*"; }

# The last value of KEY in the agent's configuration file (key = "value"; docs/config.md).
conf_value() {
	[ -r "$MODGATE_CONF" ] || return 0
	sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*\$/\1/p" \
		"$MODGATE_CONF" | tail -n 1
}

policy=$(conf_value policy)
policy=${policy:-/etc/modgate/policy.yaml}
trust=$(conf_value trust)
pull=$(conf_value pull)

# A host whose policies are signed (--trust) or pulled cannot write its own: its fleet must.
fleet_host() { [ -n "$trust" ] || [ -n "$pull" ]; }

# Replaces $policy with FILE, keeping its owner and mode and a copy of the old one beside it.
replace_policy() {
	chown --reference="$policy" "$1" && chmod --reference="$policy" "$1" &&
		cp -p "$policy" "$policy.modgate-old" && mv -f "$1" "$policy"
}

# A running agent takes the new version now, so status shows it; the running kernel's entries
# are untouched, so enforcement there does not change.
reload_agent() {
	if [ -d /run/systemd/system ] && systemctl -q is-active modgate.service 2>/dev/null; then
		systemctl reload modgate.service ||
			warn "'systemctl reload modgate' failed; the agent keeps the policy it had" \
				"('systemctl status modgate')"
	fi
}
