#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm
#
# read_time cost of the Rust rtc_m41t00 against the upstream C rtc-ds1307 (its m41t00
# variant) on QEMU's DS1338, in the same boot, on our Rust bus driver and on the C one:
# microseconds per RTC_RD_TIME (kt298-rtc read, RTC_BENCH_READS (300) reads in one
# process) and the controller's interrupts per read (one per bus transfer on this
# controller). BENCH_ROUNDS (5) alternating rounds, the order reversed every other round.
# Rows: '@bench GROUP | MEASURE | OURS | UPSTREAM | UNIT | TARGET', times as the median
# over the rounds and the best round, interrupts as the median. Targets: a read costs at
# most what the C driver's does (ratio <= 1.0); the default read is two block reads that
# must agree where the C driver makes one, so at most twice its transfers (<= 2.0), and
# checked_read=1 makes them one transfer (<= 1.0).
. /tests/lib/bench.sh
. /tests/lib/rtc.sh

N=${RTC_BENCH_READS:-300}

# client and bus of the RTC, once BUSMOD ($1) has bound r_i2c.
load_bus() {
	modprobe "$1" || return 1
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -e /sys/bus/i2c/devices/*-0068 ] 2>/dev/null && break
		sleep 0.2
	done
	[ -e /sys/bus/i2c/devices/*-0068 ] 2>/dev/null || return 1
	client=$(basename /sys/bus/i2c/devices/*-0068)
	bus=${client%-0068}
}

irqs() { # total interrupts of the I2C controller (r_i2c at 0x01f02400)
	awk '/1f02400|mv64xxx|i2c/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; t += s } END { print t + 0 }' /proc/interrupts
}

# measure WHAT: prints "US_PER_READ IRQS_PER_READ" for the RTC driver bound now, or "- -"
# after a '# ... failed' line.
measure() {
	rtc=
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		rtc=$(rtc_of_client "$client") && break
		sleep 0.1
	done
	if [ -z "$rtc" ]; then
		echo "# round $round, $1: no RTC registered for $client: failed" >&2
		echo "- -"
		return
	fi
	kt298-rtc read "/dev/$rtc" 20 >/dev/null 2>&1
	i0=$(irqs)
	if ! out=$(kt298-rtc read "/dev/$rtc" "$N" 2>&1); then
		echo "# round $round, $1: kt298-rtc read /dev/$rtc $N failed: $out" >&2
		echo "- -"
		return
	fi
	i1=$(irqs)
	echo "# $1: $out" >&2
	us=$(echo "$out" | sed -n 's/.*us_per_read=\([0-9.]*\).*/\1/p')
	awk -v us="${us:--}" -v d=$((i1 - i0)) -v n="$N" 'BEGIN { printf "%s %.2f\n", us, d / n }'
}

# rust_read [PARAM]: one measurement of rtc_m41t00 loaded with PARAM; appends to the lists
# named by SIDE ($side_us, $side_irq).
rust_read() {
	if modprobe rtc_m41t00 "$@"; then
		set -- $(measure "rtc_m41t00 $*")
		rmmod rtc_m41t00
	else
		echo "# round $round: modprobe rtc_m41t00 $* failed"
		set -- - -
	fi
	eval "${side}_us=\"\$${side}_us $1\" ${side}_irq=\"\$${side}_irq $2\""
}

c_read() {
	set -- - -
	if modprobe rtc-ds1307; then
		[ -n "$(readlink /sys/bus/i2c/devices/$client/driver)" ] ||
			echo "$client" >/sys/bus/i2c/drivers/rtc-ds1307/bind 2>/dev/null
		set -- $(measure rtc-ds1307)
		modprobe -r rtc-ds1307
	else
		echo "# round $round: modprobe rtc-ds1307 failed"
	fi
	c_us="$c_us $1" c_irq="$c_irq $2"
}

# bench BUSMOD LABEL: the drivers on one bus driver, in alternating rounds (this machine's
# timing drifts). On the C bus driver the checked read, one transfer of four messages,
# cannot work: that driver ends a read that is not the last message with a STOP and drops
# the rest of the transfer, so checked_read=1 is measured on our bus driver only.
bench() {
	if ! load_bus "$1"; then
		echo "# modprobe $1 failed"
		return
	fi
	ours_us= ours_irq= chk_us= chk_irq= c_us= c_irq=
	round=1
	while [ $round -le "$BENCH_ROUNDS" ]; do
		[ $((round % 2)) = 0 ] && c_read
		side=ours rust_read
		[ "$1" = i2c_mv64xxx_rs ] && side=chk rust_read checked_read=1
		[ $((round % 2)) = 1 ] && c_read
		echo "# $2, round $round (us): two block reads $ours_us; checked $chk_us; C rtc-ds1307 $c_us"
		round=$((round + 1))
	done
	modprobe -r "$1"

	G=rtc-m41t00
	bench_rows time $G "us per RTC_RD_TIME, two block reads ($2)" us "<=1.0" "$ours_us" "$c_us"
	bench_rows count $G "interrupts per read, two block reads ($2)" irq "<=2.0" "$ours_irq" "$c_irq"
	if [ "$1" = i2c_mv64xxx_rs ]; then
		bench_rows time $G "us per RTC_RD_TIME, checked_read=1 ($2)" us "<=1.0" "$chk_us" "$c_us"
		bench_rows count $G "interrupts per read, checked_read=1 ($2)" irq "<=1.0" "$chk_irq" "$c_irq"
	else
		echo "# checked_read=1 ($2): not measured, the C bus driver cannot make its transfer"
	fi
}

bench i2c_mv64xxx_rs "Rust bus"
bench i2c-mv64xxx "C bus"
