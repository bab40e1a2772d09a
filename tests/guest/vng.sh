#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: vng
#
# The x86_64 kernel under virtme-ng (scripts/vng.sh), with the host's root
# file system: our module loads from the build directory and runs.
. "$KT_TESTS/lib/ktap.sh"

t_check "the kernel is ours" sh -c 'uname -r | grep -q "^7\.2\."'
t_check "insmod the self-test module from the host's build" insmod "$KT_MODULES/samples/kt298_selftest.ko"
t_check "it ran our kernel-crate code" sh -c 'dmesg | grep -q "kt298 selftest loaded (bcd 0x59 = 59)"'
t_check "rmmod" rmmod kt298_selftest
t_done
