#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package as dpkg sees it (docs/packaging.md): built by scripts/package from this build
# directory, it holds exactly the files a host needs at their Debian paths, its maintainer scripts
# and conffiles, and passes lintian without errors (when lintian is installed).
set -uo pipefail
src=${1:?usage: package_deb.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: package_deb.sh SOURCE_DIR BUILD_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

deb=$("$src/scripts/package" "$build" "$tmp/out") || { echo "FAIL: scripts/package failed"; exit 1; }
echo "built $deb"
dpkg-deb -c "$deb" | awk '{print $1, $6}' | sed 's|^\(.\)[^ ]* \./|\1 /|' | sort >"$tmp/contents"
for want in \
	"- /usr/sbin/modgate" \
	"- /usr/lib/systemd/system/modgate.service" \
	"- /etc/modgate/modgate.conf" \
	"- /etc/modgate/initramfs.conf" \
	"- /usr/share/initramfs-tools/hooks/zz-modgate" \
	"- /etc/kernel/postinst.d/initramfs-modgate" \
	"- /etc/kernel/postrm.d/modgate" \
	"- /usr/share/modgate/kernel-hook.sh" \
	"- /usr/share/initramfs-tools/scripts/init-top/modgate" \
	"- /usr/lib/dracut/modules.d/99modgate/module-setup.sh" \
	"- /usr/lib/dracut/modules.d/99modgate/modgate-arm.sh" \
	"- /usr/lib/dracut/modules.d/99modgate/modgate-initrd.service" \
	"- /usr/share/modgate/hooks/syslog" \
	"- /usr/share/modgate/hooks/webhook" \
	"- /usr/share/doc/modgate/copyright" \
	"- /usr/share/doc/modgate/changelog.gz" \
	"- /usr/share/man/man8/modgate.8.gz" \
	"- /usr/share/bash-completion/completions/modgate" \
	"- /usr/share/doc/modgate/README.md"; do
	grep -qxF -- "$want" "$tmp/contents" || bad "missing $want"
done
# Nothing outside the Debian layout (no /sbin, /lib, /usr/local, no test binaries), and the
# generated policy is not shipped: it is made from the host's own modules by postinst.
grep -E ' /(sbin|bin|lib|lib64|usr/local)/' "$tmp/contents" && bad "files outside /usr, /etc"
grep -E 'loadmod|sockpoke|stopper|modgate_next|_test' "$tmp/contents" && bad "test binaries in the package"
grep -F '/etc/modgate/policy.yaml' "$tmp/contents" && bad "a policy is shipped"
dpkg-deb -c "$deb" | grep -E ' \./(usr/(sbin/modgate|share/modgate/hooks/|share/initramfs-tools/hooks/|share/initramfs-tools/scripts/init-top/)|etc/kernel/post(inst|rm)\.d/)' |
	awk '$1 ~ /^-/ && $1 != "-rwxr-xr-x"' | grep . && bad "an executable without mode 0755"

dpkg-deb -e "$deb" "$tmp/control"
for f in postinst prerm postrm; do
	[[ -x "$tmp/control/$f" ]] || bad "no executable $f"
	sh -n "$tmp/control/$f" || bad "$f: syntax"
done
[[ "$(cat "$tmp/control/triggers")" == "activate-noawait update-initramfs" ]] || bad "no update-initramfs trigger"
sort "$tmp/control/conffiles" | tr '\n' ' ' |
	grep -qx "/etc/kernel/postinst.d/initramfs-modgate /etc/kernel/postrm.d/modgate /etc/modgate/initramfs.conf /etc/modgate/modgate.conf " ||
	bad "conffiles: $(cat "$tmp/control/conffiles")"
# Upgrade keeps enforcing (prerm does nothing), removal disarms.
grep -q 'upgrade | failed-upgrade) ;;' "$tmp/control/prerm" || bad "prerm acts on upgrade"
grep -q 'modgate disarm' "$tmp/control/prerm" || bad "prerm does not disarm on removal"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libbpf1 libelf1 libssl3 libyaml-0-2 libarchive13 init-system-helpers; do
	[[ "$depends" == *"$lib"* ]] || bad "Depends lacks $lib: $depends"
done
# The binary runs and is stripped to a sane size.
dpkg-deb -x "$deb" "$tmp/root"
"$tmp/root/usr/sbin/modgate" version >/dev/null || bad "the packaged modgate does not run"
size=$(stat -c %s "$tmp/root/usr/sbin/modgate")
((size < 20000000)) || bad "usr/sbin/modgate is $size bytes: not stripped"
# The unit and configuration as shipped are what the agent accepts.
grep -qx 'ExecStart=/usr/sbin/modgate run --config /etc/modgate/modgate.conf' \
	"$tmp/root/usr/lib/systemd/system/modgate.service" || bad "unit's ExecStart"
out=$("$tmp/root/usr/sbin/modgate" run --config "$tmp/root/etc/modgate/modgate.conf" 2>&1)
[[ "$out" == *"/etc/modgate/policy.yaml"* ]] || bad "shipped modgate.conf not accepted: $out"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$tmp/root/usr/lib/systemd/system/modgate.service" 2>&1 |
		grep -v -e 'modgate.service: Command /usr/sbin/modgate is not executable' \
			-e 'Failed to prepare filename /usr/sbin/modgate' | grep . && bad "systemd-analyze verify"
fi

if ((failures)); then
	echo "$failures failed"
	exit 1
fi
echo "package checks passed: $(wc -l <"$tmp/contents") entries, $(stat -c %s "$deb") bytes"
