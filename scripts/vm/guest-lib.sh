# SPDX-License-Identifier: Apache-2.0
# Assertion helpers for guest scripts (POSIX sh; the guest /bin/sh is dash). Installed as /vm/lib.sh;
# a guest script sources it, runs checks, and ends with `vm_finish`:
#
#   . /vm/lib.sh
#   check "bpf LSM active" grep -qw bpf /sys/kernel/security/lsm
#   check_rc 1 "unlisted module denied" loadmod finit /tmp/x.ko
#   require "agent started" agent_is_up     # stops the script on failure
#   vm_finish
#
# Checks keep going after a failure so one run reports every broken assertion; `require` is for
# the ones later checks cannot survive. Each check prints its command's output before PASS/FAIL.

vm_failed=0
vm_passed=0

pass() {
	vm_passed=$((vm_passed + 1))
	echo "PASS: $*"
}

fail() {
	vm_failed=$((vm_failed + 1))
	echo "FAIL: $*"
}

# check DESCRIPTION COMMAND [ARGS...]: COMMAND must succeed.
check() {
	_desc=$1
	shift
	"$@"
	_rc=$?
	if [ "$_rc" -eq 0 ]; then
		pass "$_desc"
	else
		fail "$_desc (exit $_rc: $*)"
	fi
	return "$_rc"
}

# check_rc WANT DESCRIPTION COMMAND [ARGS...]: COMMAND must exit with status WANT (for loadmod,
# the errno; 1 = EPERM, 2 = ENOENT, 8 = ENOEXEC, 17 = EEXIST).
check_rc() {
	_want=$1
	_desc=$2
	shift 2
	"$@"
	_rc=$?
	if [ "$_rc" -eq "$_want" ]; then
		pass "$_desc"
		return 0
	fi
	fail "$_desc (exit $_rc, expected $_want: $*)"
	return 1
}

# require DESCRIPTION COMMAND [ARGS...]: like check, but ends the script on failure.
require() {
	check "$@" || vm_finish
}

vm_finish() {
	if [ "$vm_failed" -eq 0 ]; then
		echo "vm: all $vm_passed checks passed"
		exit 0
	fi
	echo "vm: $vm_failed check(s) FAILED, $vm_passed passed"
	exit 1
}
