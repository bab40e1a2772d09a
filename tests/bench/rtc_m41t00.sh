#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm
#
# read_time cost of the Rust rtc_m41t00 against the C rtc-ds1307 (m41t00
# variant) on QEMU's DS1338, in the same boot: microseconds per RTC_RD_TIME
# (kt298-rtc read loops) and controller interrupts per read (one per bus
# transfer on this controller). Rows: '@bench GROUP | MEASURE | OURS | UPSTREAM | UNIT'.
N=${RTC_BENCH_READS:-2000}

modprobe i2c-mv64xxx
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ -e /sys/bus/i2c/devices/*-0068 ] 2>/dev/null && break
	sleep 0.2
done
client=$(basename /sys/bus/i2c/devices/*-0068)
bus=${client%-0068}

irqs() { # total interrupts of the I2C controller (r_i2c at 0x01f02400)
	awk '/1f02400|mv64xxx|i2c/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; t += s } END { print t + 0 }' /proc/interrupts
}

rtc_dev() {
	for r in /sys/class/rtc/rtc*; do
		case $(readlink -f "$r/device") in */"$client") basename "$r"; return 0 ;; esac
	done
	return 1
}

# measure: prints "US_PER_READ IRQS_PER_READ" for the driver bound now.
measure() {
	rtc=$(rtc_dev) || { echo "0 0"; return; }
	kt298-rtc read "/dev/$rtc" 100 >/dev/null 2>&1
	i0=$(irqs)
	out=$(kt298-rtc read "/dev/$rtc" "$N" 2>&1)
	i1=$(irqs)
	us=$(echo "$out" | sed -n 's/.*us_per_read=\([0-9.]*\).*/\1/p')
	echo "# $out" >&2
	awk -v us="${us:-0}" -v d=$((i1 - i0)) -v n="$N" 'BEGIN { printf "%s %.2f\n", us, d / n }'
}

modprobe rtc_m41t00
sleep 1
set -- $(measure)
ours_us=$1 ours_irq=$2
rmmod rtc_m41t00
modprobe rtc_m41t00 checked_read=1
sleep 1
set -- $(measure)
chk_us=$1 chk_irq=$2
rmmod rtc_m41t00

modprobe rtc-ds1307
[ -n "$(readlink /sys/bus/i2c/devices/$client/driver)" ] ||
	echo "$client" >/sys/bus/i2c/drivers/rtc-ds1307/bind 2>/dev/null
sleep 1
set -- $(measure)
c_us=$1 c_irq=$2

echo "@bench rtc-m41t00 | us per RTC_RD_TIME (two block reads) | $ours_us | $c_us | us"
echo "@bench rtc-m41t00 | interrupts per read (two block reads) | $ours_irq | $c_irq | irq"
echo "@bench rtc-m41t00 | us per RTC_RD_TIME (checked_read=1) | $chk_us | $c_us | us"
echo "@bench rtc-m41t00 | interrupts per read (checked_read=1) | $chk_irq | $c_irq | irq"
