#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: vng
#
# The x86_64 kernel under virtme-ng (scripts/vng.sh), with the host's root
# file system: vng runs this script over its virtio-serial script ports (not
# its console fallback, where the exit status is lost), and our module loads
# from the build directory and runs.
. "$KT_TESTS/lib/ktap.sh"

t_eq "the kernel is ours" "$KT_KERNELRELEASE" "$(uname -r)"
t_check "vng's script I/O ports are there (udev made /dev/virtio-ports/virtme.*)" \
	test -e /dev/virtio-ports/virtme.stdout -a -e /dev/virtio-ports/virtme.stderr -a -e /dev/virtio-ports/virtme.ret
t_check "insmod the self-test module from the host's build" insmod "$KT_MODULES/samples/kt298_selftest.ko"
t_check "it ran our kernel-crate code" sh -c 'dmesg | grep -q "kt298 selftest loaded (bcd 0x59 = 59)"'
t_check "rmmod" rmmod kt298_selftest
t_done
