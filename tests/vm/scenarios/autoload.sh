# SPDX-License-Identifier: Apache-2.0
# Scenario 7: kernel-triggered autoload. 'ip link add ... type nlmon' makes the kernel call
# request_module("rtnl-link-nlmon"); an allow glob lets it through (and nlmon's hash lets the load
# itself through), autoload.deny and default: deny stop it before modprobe runs.
. /scenarios/lib.sh
write_policy /tmp/allow.yaml enforce "autoload:
  default: deny
  allow: [\"rtnl-link-*\"]
log_allowed: true" nlmon
start_agent /tmp/allow.yaml
ip link add mg0 type nlmon || fail "ip link add type nlmon failed with autoload allowed"
loaded nlmon || fail "nlmon not autoloaded"
expect_event 1 '"event":"module_request"' '"verdict":"allow"' '"name":"rtnl-link-nlmon"' \
	'"reason":"autoload-allow"'
ip link del mg0
rmmod nlmon
stop_agent

write_policy /tmp/deny.yaml enforce "autoload:
  default: allow
  allow: [\"rtnl-link-*\"]
  deny: [\"rtnl-link-nl*\"]" nlmon
start_agent /tmp/deny.yaml
ip link add mg0 type nlmon 2>/dev/null && fail "ip link add type nlmon succeeded despite autoload.deny"
loaded nlmon && fail "nlmon autoloaded despite autoload.deny"
expect_event 1 '"event":"module_request"' '"verdict":"deny"' '"name":"rtnl-link-nlmon"' \
	'"reason":"autoload-deny"'
stop_agent

write_policy /tmp/default-deny.yaml enforce "autoload:
  default: deny" nlmon
start_agent /tmp/default-deny.yaml
ip link add mg0 type nlmon 2>/dev/null && fail "ip link add type nlmon succeeded despite default: deny"
loaded nlmon && fail "nlmon autoloaded despite default: deny"
expect_event 1 '"event":"module_request"' '"verdict":"deny"' '"reason":"autoload-default"'
stop_agent
