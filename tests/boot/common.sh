# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the real-boot test scripts (docs/boot.md, "Testing on a real boot"); sourced.
boot_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_dir=$(cd "$boot_dir/../.." && pwd)
cache=${MODGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modgate}
images="$cache/images"

die() {
	echo "${prog:-boot}: $*" >&2
	exit 1
}

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found (Debian package $2); run scripts/setup"; }

# The Debian mirror this machine's apt uses (deb822 .sources or one-line .list), for the archive
# ($1 = debian) or the security archive ($1 = debian-security).
apt_mirror() {
	local want=$1 f uri
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -r "$f" ]] || continue
		while read -r uri; do
			uri=${uri%/}
			case "$want:$uri" in
			debian-security:*/debian-security) echo "$uri"; return 0 ;;
			debian:*/debian) echo "$uri"; return 0 ;;
			esac
		done < <(sed -n -e 's/^URIs: *//p' -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' "$f" | tr ' ' '\n')
	done
	return 1
}

# Runs "$@" in a private mount namespace, so the chroot's mounts vanish with it whatever happens.
in_private_mounts() { unshare --mount --propagation private "$@"; }
