#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm
#
# The same EEPROM workload through our driver and the upstream C one: 200 transfers of a
# 1-byte write plus a 256-byte read (one I2C_RDWR each, an i2ctransfer process each).
# Prints time per transfer and interrupts per byte. Then small transfers without process
# start-up in the way: the C rtc-ds1307 reading the DS1338 (one transfer of a 1-byte write
# and a 7-byte read per RTC_RD_TIME) on each bus driver, 1000 reads in one process.

PDEV=/sys/bus/platform/devices/1f02400.i2c
N=200

bus_of_r_i2c() {
	for a in "$PDEV"/i2c-*; do
		[ -d "$a" ] && { basename "$a" | sed 's/i2c-//'; return 0; }
	done
	return 1
}

# Interrupts counted so far on the line named $1 (all CPUs).
irqs() {
	awk -v name="$1" '$NF == name { s = 0; for (i = 2; i <= NF; i++) { if ($i !~ /^[0-9]+$/) break; s += $i } print s }' /proc/interrupts
}

uptime_cs() {
	awk '{ printf "%d", $1 * 100 }' /proc/uptime
}

# run MODULE IRQNAME: prints "centiseconds interrupts" for the workload.
run() {
	modprobe "$1" || return 1
	bus=$(bus_of_r_i2c) || return 1
	i2ctransfer -y "$bus" w1@0x50 0x00 r256 >/dev/null
	i0=$(irqs "$2")
	t0=$(uptime_cs)
	i=0
	while [ $i -lt $N ]; do
		i2ctransfer -y "$bus" w1@0x50 0x00 r256 >/dev/null || return 1
		i=$((i + 1))
	done
	t1=$(uptime_cs)
	i1=$(irqs "$2")
	modprobe -r "$1"
	echo "$((t1 - t0)) $((i1 - i0))"
}

set -- $(run i2c_mv64xxx_rs i2c_mv64xxx_rs)
ours_t=$1 ours_i=$2
set -- $(run i2c-mv64xxx mv64xxx_i2c)
c_t=$1 c_i=$2

awk -v ot="$ours_t" -v ct="$c_t" -v n=$N 'BEGIN {
	printf "@bench i2c-mv64xxx | 1+256-byte EEPROM read (I2C_RDWR, incl. exec) | %.3f | %.3f | ms\n", ot * 10 / n, ct * 10 / n }'
awk -v oi="$ours_i" -v ci="$c_i" -v n=$N 'BEGIN {
	printf "@bench i2c-mv64xxx | interrupts per byte | %.5f | %.5f | irq/byte\n", oi / (n * 257), ci / (n * 257) }'

# rtc_read BUSMOD: us per RTC_RD_TIME of the C rtc-ds1307 on that bus driver (300 reads).
rtc_read() {
	modprobe "$1" && modprobe rtc-ds1307 || { echo 0; return; }
	rtc=
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		for r in /sys/class/rtc/rtc*; do
			case $(readlink -f "$r/device") in */i2c-*/*-0068 | */*-0068) rtc=$(basename "$r") ;; esac
		done
		[ -n "$rtc" ] && break
		sleep 0.1
	done
	out=$(kt298-rtc read "/dev/$rtc" 300 2>&1)
	echo "# $1: $out" >&2
	modprobe -r rtc-ds1307
	modprobe -r "$1"
	echo "$out" | sed -n 's/.*us_per_read=\([0-9.]*\).*/\1/p'
}

# Best of 5 alternating rounds: this machine's timing drifts.
ours_rtc=0 c_rtc=0
for round in 1 2 3 4 5; do
	o=$(rtc_read i2c_mv64xxx_rs)
	c=$(rtc_read i2c-mv64xxx)
	ours_rtc=$(awk -v a="$ours_rtc" -v b="${o:-0}" 'BEGIN { print (a == 0 || (b != 0 && b < a)) ? b : a }')
	c_rtc=$(awk -v a="$c_rtc" -v b="${c:-0}" 'BEGIN { print (a == 0 || (b != 0 && b < a)) ? b : a }')
done
echo "@bench i2c-mv64xxx | RTC_RD_TIME by rtc-ds1307, 1+7-byte transfer (best of 5) | $ours_rtc | $c_rtc | us"
