#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Called by mkimage in a private mount namespace: prepares the image's root filesystem from
# inside, with the image's own dpkg, modgate, systemctl and update-initramfs.
#   prepare-root.sh ROOT KERNEL-RELEASE MODULE-TO-LEAVE-OUT initramfs-tools|dracut
set -euo pipefail
root=$1 krel=$2 deny=$3 tool=$4
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sysfs "$root/sys"
in_root() { chroot "$root" "$@"; }

in_root systemd-machine-id-setup >/dev/null
if [[ "$tool" == dracut ]]; then
	# modgate's dpkg trigger makes dracut build an initramfs at unpack and at configure, 2-3
	# minutes each in this chroot; the explicit run below builds the one that is tested.
	mount --bind /bin/true "$root/usr/bin/dracut"
fi
# Unpack modgate, write the policy with the unpacked binary, then let dpkg configure the package
# (postinst keeps an existing policy), as an operator preparing a host would.
in_root dpkg --unpack /tmp/modgate.deb
in_root mkdir -p -m 0700 /etc/modgate
in_root modgate policy init --kernel "$krel" --mode enforce -o /tmp/full.yaml
# Leave one module out: its list item, from its "- name:" line to the next item.
awk -v n="$deny" '/^  - name: / { skip = ($0 == "  - name: \"" n "\"") } !skip' \
	"$root/tmp/full.yaml" >"$root/etc/modgate/policy.yaml"
if grep -q "name: \"$deny\"" "$root/etc/modgate/policy.yaml" || ! grep -q "name: \"$deny\"" "$root/tmp/full.yaml"; then
	echo "prepare-root: could not leave $deny out of the policy" >&2
	exit 1
fi
in_root modgate policy check /etc/modgate/policy.yaml
in_root dpkg --configure modgate
if [[ "$tool" == dracut ]]; then
	umount "$root/usr/bin/dracut"
fi
# The response hook the package ships, as an operator would enable it.
echo 'on_deny = "/usr/share/modgate/hooks/syslog"' >>"$root/etc/modgate/modgate.conf"
in_root systemctl enable modgate.service modgate-boot-check.service
# The serial console is the probe's: no login prompt cutting into its output. No getty on the
# virtual consoles either: getty-static, which starts them in an image without dbus, fails
# intermittently when the host is loaded, and a failed unit is what the test looks for.
in_root systemctl mask serial-getty@ttyS0.service getty-static.service getty@tty1.service
if [[ "$tool" == initramfs-tools ]]; then
	in_root update-initramfs -c -k "$krel"
	in_root lsinitramfs "/boot/initrd.img-$krel" >"$root/tmp/initrd.list"
	# The order init runs its init-top scripts in: modgate must come before udev.
	in_root unmkinitramfs "/boot/initrd.img-$krel" /tmp/unpacked
	find "$root/tmp/unpacked" -path '*/scripts/init-top/ORDER' -exec cat {} + >"$root/tmp/init-top.order"
	rm -rf "$root/tmp/unpacked"
else
	# Not host-only: the chroot is not the machine that boots.
	in_root dracut --force --no-hostonly --kver "$krel" "/boot/initrd.img-$krel"
	in_root lsinitrd "/boot/initrd.img-$krel" | awk '{print $NF}' | sed 's|^\./||' >"$root/tmp/initrd.list"
	# lsinitrd prints symlinks as "name -> target"; keep the names.
	in_root lsinitrd "/boot/initrd.img-$krel" | sed -n 's/.* \([^ ]*\) -> .*/\1/p' >>"$root/tmp/initrd.list"
fi
rm -f "$root/tmp/modgate.deb" "$root/tmp/full.yaml"
