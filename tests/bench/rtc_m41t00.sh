#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm
#
# read_time cost of the Rust rtc_m41t00 against the C rtc-ds1307 (m41t00
# variant) on QEMU's DS1338, in the same boot: microseconds per RTC_RD_TIME
# (kt298-rtc read loops of N reads, best of 5 alternating rounds) and
# controller interrupts per read (one per bus transfer on this controller). Rows: '@bench GROUP | MEASURE | OURS | UPSTREAM | UNIT'.
. /tests/lib/rtc.sh

N=${RTC_BENCH_READS:-300}

# client and bus of the RTC, once BUSMOD ($1) has bound r_i2c.
load_bus() {
	modprobe "$1" || return 1
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -e /sys/bus/i2c/devices/*-0068 ] 2>/dev/null && break
		sleep 0.2
	done
	client=$(basename /sys/bus/i2c/devices/*-0068)
	bus=${client%-0068}
}

irqs() { # total interrupts of the I2C controller (r_i2c at 0x01f02400)
	awk '/1f02400|mv64xxx|i2c/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; t += s } END { print t + 0 }' /proc/interrupts
}

# measure: prints "US_PER_READ IRQS_PER_READ" for the driver bound now.
measure() {
	rtc=
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		rtc=$(rtc_of_client "$client") && break
		sleep 0.1
	done
	[ -n "$rtc" ] || { echo "0 0"; return; }
	kt298-rtc read "/dev/$rtc" 20 >/dev/null 2>&1
	i0=$(irqs)
	out=$(kt298-rtc read "/dev/$rtc" "$N" 2>&1)
	i1=$(irqs)
	us=$(echo "$out" | sed -n 's/.*us_per_read=\([0-9.]*\).*/\1/p')
	echo "# $out" >&2
	awk -v us="${us:-0}" -v d=$((i1 - i0)) -v n="$N" 'BEGIN { printf "%s %.2f\n", us, d / n }'
}

# min A B: the smaller of two decimal numbers (0 counts as missing).
min() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == 0 || (b != 0 && b < a)) print b; else print a }'
}

# bench BUSMOD LABEL: the three drivers on one bus driver, in alternating
# rounds (this machine's timing drifts), the best round of each as rows.
bench() {
	load_bus "$1" || { echo "# modprobe $1 failed"; return; }
	ours_us=0 chk_us=0 c_us=0
	for round in 1 2 3 4 5; do
		modprobe rtc_m41t00
		set -- "$1" "$2" $(measure)
		ours_us=$(min "$ours_us" "$3") ours_irq=$4
		rmmod rtc_m41t00
		modprobe rtc_m41t00 checked_read=1
		set -- "$1" "$2" $(measure)
		chk_us=$(min "$chk_us" "$3") chk_irq=$4
		rmmod rtc_m41t00
		modprobe rtc-ds1307
		[ -n "$(readlink /sys/bus/i2c/devices/$client/driver)" ] ||
			echo "$client" >/sys/bus/i2c/drivers/rtc-ds1307/bind 2>/dev/null
		set -- "$1" "$2" $(measure)
		c_us=$(min "$c_us" "$3") c_irq=$4
		modprobe -r rtc-ds1307
	done
	modprobe -r "$1"

	echo "@bench rtc-m41t00 | us per RTC_RD_TIME, two block reads ($2) | $ours_us | $c_us | us"
	echo "@bench rtc-m41t00 | interrupts per read, two block reads ($2) | $ours_irq | $c_irq | irq"
	if [ "$chk_us" = 0 ]; then
		# No round read the time: no row, rather than a zero that reads as a win.
		echo "# checked_read=1 ($2): every round failed (see the errors above)"
		return
	fi
	echo "@bench rtc-m41t00 | us per RTC_RD_TIME, checked_read=1 ($2) | $chk_us | $c_us | us"
	echo "@bench rtc-m41t00 | interrupts per read, checked_read=1 ($2) | $chk_irq | $c_irq | irq"
}

# On our Rust bus driver, and on the C one (where the one-transfer checked
# read fails: it ends a non-final read with a STOP).
bench i2c_mv64xxx_rs "Rust bus"
bench i2c-mv64xxx "C bus"
