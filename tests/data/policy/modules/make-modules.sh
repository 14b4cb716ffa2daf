#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the tiny fake kernel modules the policy tests read (committed, so tests need no
# compiler or signing tools). Each is a relocatable ELF object with a .modinfo section like a real
# module's; the signed ones carry a sign-file style PKCS#7 trailer made with a throwaway key.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mod() { # NAME MODINFO...
	local name=$1
	shift
	{
		printf '__attribute__((section(".modinfo"), used, aligned(1))) static const char mi[] = "'
		for kv in "$@"; do printf '%s\\0' "$kv"; done
		printf '";\nint init_module(void) { return 0; }\n'
	} >"$tmp/$name.c"
	gcc -c -O0 -fno-asynchronous-unwind-tables -o "$name.ko" "$tmp/$name.c"
	strip --strip-debug -R .comment -R .note.GNU-stack "$name.ko"
}

# sign-file's layout: PKCS#7 DER, struct module_signature (id_type 2, big-endian length), magic.
sign() { # IN OUT [keyid]
	local args=(-sign -binary -noattr -nocerts -outform DER -md sha256 -signer "$tmp/cert.pem"
		-inkey "$tmp/key.pem" -in "$1")
	[[ ${3:-} == keyid ]] && args+=(-keyid)
	openssl cms "${args[@]}" -out "$tmp/sig"
	local len
	len=$(stat -c %s "$tmp/sig")
	{
		cat "$1" "$tmp/sig"
		printf '\x00\x00\x02\x00\x00\x00\x00\x00'
		printf "\\x$(printf %02x $((len >> 24 & 255)))\\x$(printf %02x $((len >> 16 & 255)))"
		printf "\\x$(printf %02x $((len >> 8 & 255)))\\x$(printf %02x $((len & 255)))"
		printf '~Module signature appended~\n'
	} >"$2"
}

openssl req -new -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/O=modgate tests/CN=modgate test signing key" \
	-addext "subjectKeyIdentifier=hash" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

mod fake_plain "name=fake_plain" "version=1.2.3" "vermagic=6.1.0-test SMP preempt mod_unload " "license=GPL"
mod fake_signed "name=fake_signed" "vermagic=6.1.0-test SMP preempt mod_unload "
sign fake_signed.ko "$tmp/s.ko"
mv "$tmp/s.ko" fake_signed.ko
mod fake_keyid "name=fake_keyid" "vermagic=6.1.0-test SMP preempt mod_unload "
sign fake_keyid.ko "$tmp/k.ko" keyid
mv "$tmp/k.ko" fake_keyid.ko
# A module whose file name differs from its modinfo name, as with dashes in file names.
mod fake-dash "name=fake_dash" "vermagic=6.1.0-test SMP preempt mod_unload "
# An ELF object without .modinfo: not a module.
printf 'int x;\n' >"$tmp/nomodinfo.c"
gcc -c -o not_a_module.o "$tmp/nomodinfo.c"

# Compressed like the kernel's modules_install does.
xz --check=crc32 --lzma2=dict=1MiB -c fake_signed.ko >fake_signed.ko.xz
zstd -q -19 -c fake_signed.ko >fake_signed.ko.zst
gzip -n -9 -c fake_signed.ko >fake_signed.ko.gz
# Corrupt: a byte flipped in the middle of the xz stream, and the stream cut short.
cp fake_signed.ko.xz corrupt.ko.xz
size=$(stat -c %s corrupt.ko.xz)
printf '\xff' | dd of=corrupt.ko.xz bs=1 seek=$((size / 2)) conv=notrunc status=none
head -c $((size / 2)) fake_signed.ko.xz >truncated.ko.xz
