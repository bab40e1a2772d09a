#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# What 'make run' shows: each part of the suite, as far as it exists.
machine=$(cat /etc/kt298-machine)
echo "== kt298 on $machine: $(uname -r)"

echo "== I2C adapters"
if [ "$machine" = arm ]; then
	modprobe i2c_mv64xxx_rs 2>/dev/null || modprobe i2c-mv64xxx
fi
i2cdetect -l
for bus in /sys/bus/i2c/devices/i2c-*; do
	[ -e "$bus" ] || continue
	n=${bus##*-}
	echo "-- i2cdetect -y $n ($(cat "$bus/name"))"
	i2cdetect -y "$n"
done

echo "== RTC"
if [ "$machine" = arm ]; then
	modprobe rtc_m41t00 2>/dev/null || modprobe rtc-ds1307
fi
for r in /sys/class/rtc/rtc*; do
	[ -e "$r" ] || continue
	echo "$(basename "$r"): $(cat "$r/name"): $(cat "$r/date" 2>/dev/null) $(cat "$r/time" 2>/dev/null)"
done
for dev in /dev/rtc1 /dev/rtc0; do
	[ -e "$dev" ] && { echo "hwclock -r -f $dev: $(hwclock -r -f $dev 2>&1)"; break; }
done

echo "== kscrubd"
if modprobe kscrubd 2>/dev/null; then
	for s in scrub_start scrub_stop scrub_load; do echo "vm.$s = $(sysctl -n vm.$s)"; done
	ps | grep '[k]scrubd'
	# Off until started: start it, let it fill, and show what the pool served.
	sysctl -w vm.scrub_start=6 >/dev/null
	sleep 3
	grep -E '^(pages|fault_hits|fault_misses) ' /sys/kernel/debug/kscrubd/stats 2>/dev/null
else
	echo "(kscrubd is not built)"
fi

echo "== relayfs"
if modprobe relayfs 2>/dev/null; then
	mount -t relayfs none /sys/kernel/relayfs && find /sys/kernel/relayfs
else
	echo "(relayfs is not built yet)"
fi
