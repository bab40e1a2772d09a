# SPDX-License-Identifier: GPL-2.0
#
# KTAP output for the guest test scripts (busybox sh). Sourced by each script
# in tests/guest/; the guest's /init runs every script and the host parses
# what they print. A script prints one KTAP document:
#
#   . /tests/lib/ktap.sh
#   t_check "rtc0 exists" test -e /dev/rtc0     # ok if the command succeeds
#   t_eq "eeprom byte 0" "0x5a" "$(i2cget -y 0 0x50 0)"
#   t_skip "10-bit addresses" "QEMU has no 10-bit model"
#   t_done                                       # the plan; required
#
# A script that dies before t_done has no plan, and the host counts it as
# failed. Diagnostics go to stdout as '# ' lines just before the result.

_t_n=0
echo "KTAP version 1"

# With KT_KMSG=1 (the QEMU guests' /init sets it) each result is also noted in the
# kernel log, by number, so that the host can say which test a kernel splat came with.
_t_kmsg() {
	[ "${KT_KMSG:-0}" = 1 ] && echo "<5>kt298-test: result $_t_n" 2>/dev/null >/dev/kmsg
	return 0
}

t_ok() {
	_t_n=$((_t_n + 1))
	echo "ok $_t_n $1"
	_t_kmsg
}

t_fail() {
	_t_n=$((_t_n + 1))
	# Diagnostics come before the result line, as KUnit prints them.
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'
	echo "not ok $_t_n $1"
	_t_kmsg
}

t_skip() {
	_t_n=$((_t_n + 1))
	echo "ok $_t_n $1 # SKIP ${2:-}"
	_t_kmsg
}

# t_check NAME CMD...: ok if CMD exits 0; its output is shown on failure.
t_check() {
	_name=$1
	shift
	if _out=$("$@" 2>&1); then
		t_ok "$_name"
	else
		t_fail "$_name" "'$*' failed (exit $?): $_out"
	fi
}

# t_check_fails NAME CMD...: ok if CMD exits non-zero.
t_check_fails() {
	_name=$1
	shift
	if _out=$("$@" 2>&1); then
		t_fail "$_name" "'$*' succeeded but should have failed: $_out"
	else
		t_ok "$_name"
	fi
}

# t_eq NAME EXPECTED ACTUAL
t_eq() {
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1" "expected '$2', got '$3'"
	fi
}

# t_done: print the plan. Call once, last.
t_done() {
	echo "1..$_t_n"
}

# The machine the script runs on: x86_64 or arm.
t_machine() {
	cat /etc/kt298-machine
}
