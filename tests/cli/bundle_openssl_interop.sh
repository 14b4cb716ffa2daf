#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# docs/fleet.md's recipes, run with other tools than modgate's own code: the OpenSSL command line
# verifies a bundle's signature over the documented bytes, sha256sum recomputes a key id and a
# cohort bucket, and keys made by `openssl genpkey` sign and verify with modgate.
# Usage: bundle_openssl_interop.sh MODGATE
set -euo pipefail
modgate=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t"
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > p.yaml <<'EOF'
version: 9
mode: enforce
rollout: {enforce_percent: 91.72, salt: wave-1}
modules:
  - name: ext4
    sha256: 5d0906d7ac091c65510a58b58088e05f2c65e7c6dc48c4b1f3b0c9fea4e4625c
EOF

"$modgate" keygen -o fleet > keygen.out
"$modgate" policy sign --key fleet.private.pem p.yaml -o p.bundle --created 1767225600 > /dev/null

# Key id: the first 16 hex digits of SHA-256 of the raw 32-byte public key, which is the last 32
# bytes of the DER SubjectPublicKeyInfo.
id=$(openssl pkey -pubin -in fleet.public.pem -outform DER | tail -c 32 | sha256sum | cut -c1-16)
grep -qx "key id $id" keygen.out || fail "key id: sha256sum says $id, keygen said $(head -1 keygen.out)"
grep -qx "key-id $id" p.bundle || fail "the bundle's key-id is not $id"

# The signed message: the context string with its NUL, header lines 1-6, the policy (from line 9).
{ printf 'modgate-bundle-signature-v1\0'; head -n 6 p.bundle; tail -n +9 p.bundle; } > msg
sed -n 7p p.bundle | sed 's/^signature //' | xxd -r -p > sig
[ "$(stat -c %s sig)" = 64 ] || fail "signature is not 64 bytes"
openssl pkeyutl -verify -pubin -inkey fleet.public.pem -rawin -in msg -sigfile sig > verify.out ||
  fail "openssl does not verify the documented signed bytes: $(cat verify.out)"
tail -n +9 p.bundle | cmp -s - p.yaml || fail "the payload is not the policy byte for byte"
[ "$(sed -n 6p p.bundle)" = "policy-size $(stat -c %s p.yaml)" ] || fail "policy-size"
[ "$(sed -n 8p p.bundle)" = "" ] || fail "line 8 is not empty"

# A one-byte change in the policy: openssl and modgate both refuse it.
sed 's/ext4/ext5/' p.bundle > bad.bundle
{ printf 'modgate-bundle-signature-v1\0'; head -n 6 bad.bundle; tail -n +9 bad.bundle; } > badmsg
if openssl pkeyutl -verify -pubin -inkey fleet.public.pem -rawin -in badmsg -sigfile sig \
  > /dev/null 2>&1; then fail "openssl verified a changed policy"; fi
rc=0; "$modgate" policy verify --pubkey fleet.public.pem bad.bundle 2> err || rc=$?
[ "$rc" = 1 ] || fail "modgate verify of a changed policy exited $rc"
grep -q 'refused (bad_signature)' err || fail "unexpected message: $(cat err)"

# Keys from the OpenSSL command line work as modgate's own.
openssl genpkey -algorithm ed25519 -out o.private.pem 2> /dev/null
chmod 600 o.private.pem
openssl pkey -in o.private.pem -pubout -out o.public.pem
"$modgate" policy sign --key o.private.pem p.yaml -o o.bundle > /dev/null
"$modgate" policy verify --pubkey o.public.pem o.bundle > o.out || fail "openssl key: $(cat o.out)"
# ... and modgate's keys with the OpenSSL command line.
openssl pkey -in fleet.private.pem -pubout | cmp -s - fleet.public.pem ||
  fail "openssl derives another public key from modgate's private key"

# The cohort recipe with sha256sum and shell arithmetic, against modgate's own answer.
salt=wave-1 id=0123456789abcdef0123456789abcdef
echo "$id" > machine-id
h=$(printf 'modgate-rollout 1\n%s\n%s\n' "$salt" "$id" | sha256sum | cut -c1-8)
bucket=$(( 0x$h % 10000 ))
"$modgate" policy verify --pubkey fleet.public.pem p.bundle --machine-id machine-id > v.out
grep -qx "this host: bucket $bucket of 10000 (machine-id): runs it in enforce" v.out ||
  fail "cohort: shell says $bucket; modgate says $(tail -1 v.out)"
echo "ok: signature, key id and cohort recomputed with openssl and sha256sum (bucket $bucket)"
