#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu.sh ARCH KBUILD INITRD MODE LOG [EXTRA_CPIO]: boot a guest and wait for it.
#
#   x86_64  QEMU TCG, 4 CPUs, 2 GiB (KVM is used when it works: KT_KVM=1)
#   arm     Orange Pi PC (Allwinner H3, 1 GiB) with a DS1338 RTC at 0x68 and
#           a 256-byte AT24 EEPROM at 0x50 on r_i2c, and our DT overlay
#
# MODE is the guest /init's kt298.mode (check, bench, demo, cmd, shell). The
# serial console goes to LOG (and to the terminal with KT_VERBOSE=1, or for
# the interactive shell). EXTRA_CPIO is appended to the initramfs (the kernel
# unpacks concatenated archives in order). The boot is killed after
# KT_TIMEOUT seconds (default 1200: the arm test run takes 9-10 min under TCG);
# the caller judges the log. KT_ICOUNT=shift=0 (QEMU's -icount options) runs the
# guest in instruction-count mode: its clock advances 2^shift ns per instruction
# executed (deterministic, all vCPUs in turn on one host thread; never with KVM).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
arch=$1 kbuild=$2 initrd=$3 mode=$4 logf=$5 extra=${6:-}
timeout=${KT_TIMEOUT:-1200}

if [ -n "$extra" ]; then
	cat "$initrd" "$extra" >"$logf.initrd"
	initrd=$logf.initrd
fi
append="console=ttyS0,115200 quiet panic=-1 kt298.mode=$mode ${KT_APPEND:-}"
case $arch in
x86_64)
	accel=tcg cpu=max
	if [ "${KT_KVM:-0}" = 1 ] && [ -w /dev/kvm ] && [ -z "${KT_ICOUNT:-}" ]; then accel=kvm cpu=host; fi
	cmd=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp 4 -m 2G
		-kernel "$kbuild/arch/x86/boot/bzImage")
	;;
arm)
	cmd=(qemu-system-arm -M orangepi-pc -m 1G
		-kernel "$kbuild/arch/arm/boot/zImage" -dtb "$kbuild/kt298-orangepi-pc.dtb"
		-device ds1338,address=0x68 -device at24c-eeprom,address=0x50,rom-size=256)
	;;
*) die "unknown ARCH $arch" ;;
esac
cmd+=(-initrd "$initrd" -append "$append" -no-reboot)
# Under icount the RTC models follow the guest's clock (-rtc clock=vm), not the host's, which
# would run ahead of guest time.
[ -z "${KT_ICOUNT:-}" ] || cmd+=(-icount "$KT_ICOUNT" -rtc clock=vm)

rc=0
if [ "$mode" = shell ]; then
	"${cmd[@]}" -nographic 2>&1 | tee "$logf" || rc=$?
elif [ "${KT_VERBOSE:-0}" = 1 ]; then
	timeout --kill-after=10 "$timeout" "${cmd[@]}" -display none -monitor none -serial stdio </dev/null 2>&1 | tee "$logf" || rc=$?
else
	timeout --kill-after=10 "$timeout" "${cmd[@]}" -display none -monitor none -serial stdio </dev/null >"$logf" 2>&1 || rc=$?
fi
rm -f "$logf.initrd"
[ $rc = 124 ] && echo "@@kt298 host: the guest was killed after ${timeout}s" >>"$logf"
exit 0
