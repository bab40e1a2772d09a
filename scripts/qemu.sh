#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu.sh ARCH KBUILD INITRD MODE LOG [EXTRA_CPIO]: boot a guest and wait for it.
#
#   x86_64  QEMU TCG, 4 CPUs, 2 GiB (KVM is used when it works: KT_KVM=1), and on kernels
#           with ACPI memory hotplug a 512 MiB DIMM, online in ZONE_MOVABLE (not in bench mode)
#   arm     Orange Pi PC (Allwinner H3, 1 GiB) with a DS1338 RTC at 0x68 and
#           a 256-byte AT24 EEPROM at 0x50 on r_i2c, and our DT overlay
#
# MODE is the guest /init's kt298.mode (check, bench, demo, cmd, boot, shell).
# The guest has two ports. One carries the tests' output (/init writes to it,
# kt298.tty=) into LOG, and to the terminal with KT_VERBOSE=1: ttyS0 on the
# Orange Pi PC, a virtio console (hvc0) on x86_64 (see below). The other, a
# serial port, is the kernel's only console, at every log level
# (ignore_loglevel), into LOG's kernel log, LOG with .log replaced by
# .kernel.log: every kernel message of the run, from the boot's first to
# power-off, whatever the kernel's log buffer keeps (kt298-report checks it for
# splats): ttyS0 on x86_64; on the Orange Pi PC UART1 (ttyS1), which the
# board's device tree leaves disabled: boards/orangepi-pc/kernel-log-uart.dtso
# enables it for the boot. The interactive shell has one port, ttyS0, as the
# console.
# EXTRA_CPIO is appended to the initramfs (the kernel unpacks concatenated
# archives in order). The boot is killed after KT_TIMEOUT seconds (default 1200 on
# arm, whose test run takes 9-10 min under TCG; 2400 on x86_64, whose debug kernel
# runs 20 rounds of kscrubd under memory pressure in about 20 min); the caller
# judges the logs.
# KT_ICOUNT=shift=0 (QEMU's -icount options) runs the guest in instruction-count
# mode: its clock advances 2^shift ns per instruction executed (deterministic,
# all vCPUs in turn on one host thread; never with KVM).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
arch=$1 kbuild=$2 initrd=$3 mode=$4 logf=$5 extra=${6:-}
timeout=${KT_TIMEOUT:-1200}
[ "$arch" = x86_64 ] && timeout=${KT_TIMEOUT:-2400}

if [ -n "$extra" ]; then
	cat "$initrd" "$extra" >"$logf.initrd"
	initrd=$logf.initrd
fi
klog=${logf%.log}.kernel.log
rm -f "$klog"
if [ "$mode" = shell ]; then
	append="console=ttyS0,115200 quiet"
	ports=()
else
	# printk.devkmsg=on: /init's and the scripts' markers in the kernel log are never
	# rate-limited away.
	klogdev=(-chardev "file,id=klog,path=${klog//,/,,}")
	if [ "$arch" = x86_64 ]; then
		# The tests' output on a virtio console (hvc0), not on a second 8250 port: the
		# 8250 ports share one lock class, so a tty writer on one and the console on the
		# other let lockdep chain the tty's wake-ups to every printk made under a lock
		# (the hrtimer doc examples' ODEBUG warnings at boot) and report a circular
		# dependency, after which lockdep is off for the rest of the run.
		append="console=ttyS0,115200 ignore_loglevel printk.devkmsg=on kt298.tty=hvc0"
		ports=("${klogdev[@]}" -serial chardev:klog
			-device virtio-serial-pci -chardev stdio,id=out -device virtconsole,chardev=out)
	else
		append="console=ttyS1,115200 ignore_loglevel printk.devkmsg=on kt298.tty=ttyS0"
		ports=(-serial stdio "${klogdev[@]}" -serial chardev:klog)
	fi
fi
append+=" panic=-1 kt298.mode=$mode ${KT_APPEND:-}"
dtb=$kbuild/kt298-orangepi-pc.dtb
case $arch in
x86_64)
	accel=tcg cpu=max
	if [ "${KT_KVM:-0}" = 1 ] && [ -w /dev/kvm ] && [ -z "${KT_ICOUNT:-}" ]; then accel=kvm cpu=host; fi
	cmd=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp 4)
	if [ "$mode" != bench ] && grep -q '^CONFIG_ACPI_HOTPLUG_MEMORY=y' "$kbuild/.config" 2>/dev/null; then
		# A 512 MiB DIMM besides the 2 GiB of boot memory. The kernel adds it through ACPI
		# and onlines it into ZONE_MOVABLE: memory that can go offline again, as a whole
		# (boot memory's movable blocks are pinned in part by boot-time reservations).
		# Benchmarks run on the plain 2 GiB.
		cmd+=(-m 2G,slots=1,maxmem=2560M -object memory-backend-ram,id=kt298dimm,size=512M
			-device pc-dimm,id=dimm0,memdev=kt298dimm)
		append+=" memhp_default_state=online_movable"
	else
		cmd+=(-m 2G)
	fi
	cmd+=(-kernel "$kbuild/arch/x86/boot/bzImage")
	;;
arm)
	if [ ${#ports[@]} -gt 0 ]; then
		"$kbuild/scripts/dtc/dtc" -q -@ -I dts -O dtb -o "$logf.dtbo" "$here/../boards/orangepi-pc/kernel-log-uart.dtso"
		"$kbuild/scripts/dtc/fdtoverlay" -i "$dtb" -o "$logf.dtb" "$logf.dtbo"
		dtb=$logf.dtb
	fi
	cmd=(qemu-system-arm -M orangepi-pc -m 1G
		-kernel "$kbuild/arch/arm/boot/zImage" -dtb "$dtb"
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
	timeout --kill-after=10 "$timeout" "${cmd[@]}" -display none -monitor none "${ports[@]}" </dev/null 2>&1 | tee "$logf" || rc=$?
else
	timeout --kill-after=10 "$timeout" "${cmd[@]}" -display none -monitor none "${ports[@]}" </dev/null >"$logf" 2>&1 || rc=$?
fi
rm -f "$logf.initrd" "$logf.dtbo" "$logf.dtb"
[ $rc = 124 ] && echo "@@kt298 host: the guest was killed after ${timeout}s" >>"$logf"
exit 0
