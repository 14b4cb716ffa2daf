#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The example response hooks (scripts/hooks, docs/hooks.md) against real receivers on loopback:
# webhook POSTs the event on stdin as JSON to an HTTP server (Python's http.server), with the
# header from a file, and fails on a server error or a server that never answers; syslog passes
# the event to logger with the identifier and priority for each hook (the journal side is checked
# on a real boot, tests/boot).
set -uo pipefail
src=${1:?usage: hook_scripts.sh SOURCE_DIR}
tmp=$(mktemp -d)
server_pid=
cleanup() {
	[[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
command -v curl >/dev/null || { echo "FAIL: curl not found (Debian package curl; run scripts/setup)"; exit 1; }

cat >"$tmp/server.py" <<'PY'
import http.server, sys, time
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/hang":
            time.sleep(30)
        with open(out, "ab") as f:
            f.write(b"%s %s %s %s\n" % (self.path.encode(), self.headers.get("Content-Type", "").encode(),
                                        self.headers.get("Authorization", "").encode(), body))
        self.send_response(500 if self.path == "/fail" else 200)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$tmp/server.py" "$tmp/received" >"$tmp/port" &
server_pid=$!
for _ in $(seq 50); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
port=$(cat "$tmp/port")
[[ -n "$port" ]] || { echo "FAIL: the test server did not start"; exit 1; }

event='{"ts":"2026-11-27T01:22:59Z","event":"module_load","verdict":"deny","name":"minix"}'
printf 'Authorization: Bearer s3cret\n' >"$tmp/header"
if printf '%s\n' "$event" | MODGATE_WEBHOOK_URL="http://127.0.0.1:$port/ok" \
	MODGATE_WEBHOOK_HEADER_FILE="$tmp/header" "$src/scripts/hooks/webhook"; then
	grep -qxF "/ok application/json Bearer s3cret $event" "$tmp/received" ||
		bad "webhook: the server got $(cat "$tmp/received")"
else
	bad "webhook to a 200 server failed"
fi
printf '%s\n' "$event" | MODGATE_WEBHOOK_URL="http://127.0.0.1:$port/fail" "$src/scripts/hooks/webhook" 2>/dev/null &&
	bad "webhook succeeded against a 500"
# A server that never answers: curl's own limit ends the call well before the agent's timeout.
start=$(date +%s)
printf '%s\n' "$event" | MODGATE_WEBHOOK_URL="http://127.0.0.1:$port/hang" "$src/scripts/hooks/webhook" 2>/dev/null &&
	bad "webhook succeeded against a server that never answers"
(($(date +%s) - start < 25)) || bad "webhook waited for the hanging server"
MODGATE_WEBHOOK_URL= "$src/scripts/hooks/webhook" </dev/null 2>"$tmp/err" && bad "webhook ran without a URL"
grep -q MODGATE_WEBHOOK_URL "$tmp/err" || bad "webhook without a URL did not say so: $(cat "$tmp/err")"

# syslog: what it hands logger, through a logger earlier in PATH that records its arguments and
# stdin.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/logger" <<SH
#!/bin/sh
echo "\$*" >>"$tmp/logger.args"
cat >>"$tmp/logger.stdin"
SH
chmod +x "$tmp/bin/logger"
printf '%s\n' "$event" | PATH="$tmp/bin:$PATH" MODGATE_HOOK=on_deny "$src/scripts/hooks/syslog" || bad "syslog hook failed"
printf '%s\n' "$event" | PATH="$tmp/bin:$PATH" MODGATE_HOOK=on_would_deny "$src/scripts/hooks/syslog" || bad "syslog hook failed"
grep -q -- "-t modgate-deny -p auth.warning" "$tmp/logger.args" || bad "syslog on_deny args: $(cat "$tmp/logger.args")"
grep -q -- "-t modgate-would-deny -p auth.notice" "$tmp/logger.args" || bad "syslog on_would_deny args"
[[ "$(grep -c . "$tmp/logger.stdin")" -eq 2 ]] && grep -qxF "$event" "$tmp/logger.stdin" || bad "syslog stdin: $(cat "$tmp/logger.stdin")"

if ((failures)); then
	echo "$failures failed"
	exit 1
fi
echo "hook script checks passed"
