#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm x86_64
#
# The harness itself: the guest's clock sleeps for real (32-bit guests need
# COMPAT_32BIT_TIME for glibc's nanosleep), debugfs is there, and a module of
# ours loads, runs its code and unloads cleanly.
. /tests/lib/ktap.sh

read -r t0 _ </proc/uptime
sleep 1
read -r t1 _ </proc/uptime
ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
if [ "$ms" -ge 900 ] && [ "$ms" -le 3000 ]; then
	t_ok "sleep 1 takes a second ($ms ms)"
else
	t_fail "sleep 1 takes a second" "it took $ms ms"
fi

t_check "debugfs is mounted" test -d /sys/kernel/debug/kunit
t_check "the self-test module loads" modprobe kt298_selftest
t_check "it ran our kernel-crate code" sh -c 'dmesg | grep -q "kt298 selftest loaded (bcd 0x59 = 59)"'
t_check "its KUnit suite is registered" test -f /sys/kernel/debug/kunit/kt298_selftest/results
t_check "it unloads" modprobe -r kt298_selftest
t_check_fails "it is gone" grep -q '^kt298_selftest ' /proc/modules
t_done
