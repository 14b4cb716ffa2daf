#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# modgate policy suggest as an operator runs it: events from two hosts plus junk, an old policy;
# the proposal is a valid policy one version up with the new hash, and the summary names the junk.
set -euo pipefail
modgate=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

a=$(printf 'a%.0s' {1..64})
b=$(printf 'b%.0s' {1..64})
cat >"$tmp/old.yaml" <<YAML
version: 4
mode: dry-run
modules:
  - name: minix
    sha256: "$a"
YAML
ev() { printf '{"event":"module_load","verdict":"%s","sha256":"%s","name":"%s","listed":false%s}\n' "$@"; }
{
	ev would-deny "$a" minix ''
	ev would-deny "$b" vfat ',"host":"web1"'
	echo '{broken'
	ev deny "$b" vfat ',"host":"web2"'
} >"$tmp/events.jsonl"

"$modgate" policy suggest --events "$tmp/events.jsonl" --policy "$tmp/old.yaml" -o "$tmp/new.yaml" \
	>"$tmp/summary" || fail "exit $?"
grep -q 'events.jsonl:3: not JSON' "$tmp/summary" || fail "malformed line not named: $(cat "$tmp/summary")"
grep -q "vfat $b x2 on web1(1) web2(1)" "$tmp/summary" || fail "group line: $(cat "$tmp/summary")"
grep -q '1 already listed' "$tmp/summary" || fail "listed count"
"$modgate" policy check -q "$tmp/new.yaml" || fail "proposal does not check"
"$modgate" policy diff --json "$tmp/old.yaml" "$tmp/new.yaml" >"$tmp/diff.json"
python3 - "$tmp/diff.json" "$b" <<'PY' || fail "diff: $(cat "$tmp/diff.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert {"key": "version", "from": "4", "to": "5"} in d["settings"], d["settings"]
added = [(m["name"], m["sha256"]) for m in d["modules"]["added"]]
assert added == [("vfat", sys.argv[2])], added
assert d["modules"]["removed"] == [], d["modules"]
PY

# --json: the same report for a review tool; the policy only with -o.
"$modgate" policy suggest --json --events "$tmp/events.jsonl" --policy "$tmp/old.yaml" \
	-o "$tmp/new2.yaml" >"$tmp/report.json" || fail "--json exit $?"
python3 - "$tmp/report.json" "$b" <<'PY' || fail "--json report: $(cat "$tmp/report.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["lines"] == 4 and r["denials"] == 3 and r["already_listed"] == 1, r
assert len(r["malformed"]) == 1 and r["malformed"][0].endswith("/events.jsonl:3: not JSON"), r["malformed"]
assert r["proposed_version"] == 5, r
s = r["suggestions"]
assert [(x["name"], x["sha256"], x["count"], x["hosts"]) for x in s] == \
    [("vfat", sys.argv[2], 2, {"web1": 1, "web2": 1})], s
PY
cmp -s "$tmp/new.yaml" "$tmp/new2.yaml" || "$modgate" policy diff "$tmp/new.yaml" "$tmp/new2.yaml" |
	grep -q "no differences" || fail "--json -o wrote another policy than without --json"

# Several files, and standard input: the same report, a malformed line named in its own file.
head -n2 "$tmp/events.jsonl" >"$tmp/e1.jsonl"
tail -n2 "$tmp/events.jsonl" >"$tmp/e2.jsonl"
"$modgate" policy suggest --events "$tmp/e1.jsonl" "$tmp/e2.jsonl" --policy "$tmp/old.yaml" \
	-o "$tmp/new3.yaml" >"$tmp/summary3" || fail "two files: exit $?"
grep -q 'e2.jsonl:1: not JSON' "$tmp/summary3" || fail "malformed line not named in its file: $(cat "$tmp/summary3")"
"$modgate" policy diff --exit-code "$tmp/new.yaml" "$tmp/new3.yaml" >/dev/null ||
	fail "two files proposed another policy than their concatenation"
"$modgate" policy suggest --events - --policy "$tmp/old.yaml" -o "$tmp/new4.yaml" \
	<"$tmp/events.jsonl" >"$tmp/summary4" || fail "stdin: exit $?"
grep -q -- '-:3: not JSON' "$tmp/summary4" || fail "stdin's malformed line: $(cat "$tmp/summary4")"
"$modgate" policy diff --exit-code "$tmp/new.yaml" "$tmp/new4.yaml" >/dev/null ||
	fail "stdin proposed another policy than the file"

rc=0
"$modgate" policy suggest --events - - </dev/null >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 1 ]] || fail "stdin twice: exit $rc"
grep -q "only once" "$tmp/err" || fail "stdin twice: $(cat "$tmp/err")"

rc=0
"$modgate" policy suggest --events "$tmp/missing.jsonl" >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 1 ]] || fail "missing events file: exit $rc"
grep -q 'cannot read' "$tmp/err" || fail "no clear error"
echo ok
