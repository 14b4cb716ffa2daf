# SPDX-License-Identifier: Apache-2.0
# HTTPS inside the guest: nginx with a CA made here (scenarios/https.sh), fetched through the
# agent's own pull code (pullget = fetch_once, libcurl, verification against the test CA).
. /scenarios/lib.sh
. /scenarios/https.sh

https_start || fail "cannot start the HTTPS server"
url=$(https_url bundle)

echo "first bundle" >/tmp/b1
https_publish bundle /tmp/b1 || fail "cannot publish"
pullget --ca "$HTTPS_CA" -o /tmp/got --etag-out /tmp/etag "$url" >/tmp/pg.out 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "first fetch exited $rc: $(cat /tmp/pg.out)"
cmp -s /tmp/b1 /tmp/got || fail "fetched bytes differ from the published file"
[ -s /tmp/etag ] || fail "no ETag: $(cat /tmp/pg.out)"
pass "new bundle fetched, ETag $(cat /tmp/etag)"

pullget --ca "$HTTPS_CA" --etag "$(cat /tmp/etag)" "$url" >/tmp/pg.out 2>&1
rc=$?
[ "$rc" -eq 3 ] || fail "unchanged bundle: exited $rc, expected 3 (not modified): $(cat /tmp/pg.out)"
grep -q "status=304" /tmp/pg.out || fail "no 304: $(cat /tmp/pg.out)"
pass "unchanged bundle -> 304"

# Same size, published within the same second: https_publish still gives it a new ETag.
echo "secnd bundle" >/tmp/b2
https_publish bundle /tmp/b2 || fail "cannot publish"
pullget --ca "$HTTPS_CA" --etag "$(cat /tmp/etag)" -o /tmp/got "$url" >/tmp/pg.out 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "changed bundle: exited $rc: $(cat /tmp/pg.out)"
cmp -s /tmp/b2 /tmp/got || fail "fetched bytes differ from the second file"
pass "changed bundle fetched"

# Without the test CA (the guest has no system CAs): refused before any byte is trusted.
pullget -o /tmp/untrusted "$url" >/tmp/pg.out 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "fetch without the CA exited $rc: $(cat /tmp/pg.out)"
grep -q "pullget: tls" /tmp/pg.out || fail "not a TLS error: $(cat /tmp/pg.out)"
[ ! -e /tmp/untrusted ] || fail "an untrusted body was written"
pass "untrusted server refused: $(grep 'pullget: tls' /tmp/pg.out)"

# Trusting another CA only: the server's certificate does not verify.
https_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /tmp/other.key \
	-out /tmp/other.pem -days 2 -subj "/CN=another CA" || fail "cannot make another CA"
pullget --ca /tmp/other.pem -o /tmp/untrusted "$url" >/tmp/pg.out 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "fetch trusting another CA exited $rc: $(cat /tmp/pg.out)"
grep -q "pullget: tls-verify: .*TLS certificate verify failed" /tmp/pg.out ||
	fail "not a verify error: $(cat /tmp/pg.out)"
[ ! -e /tmp/untrusted ] || fail "an untrusted body was written"
pass "certificate from another CA refused: $(grep 'pullget: tls' /tmp/pg.out)"

pullget --ca "$HTTPS_CA" "$(https_url missing)" >/tmp/pg.out 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "HTTP 404" /tmp/pg.out || fail "404 not reported: $(cat /tmp/pg.out)"
pullget --ca "$HTTPS_CA" "$(https_url status/500)" >/tmp/pg.out 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q "HTTP 500" /tmp/pg.out || fail "500 not reported: $(cat /tmp/pg.out)"
pass "404 and 500 reported"

pid=$HTTPS_PID
https_stop
kill -0 "$pid" 2>/dev/null && fail "nginx still running after https_stop"
pass "nginx stopped"
