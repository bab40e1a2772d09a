#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm
#
# Our bus driver (i2c_mv64xxx_rs) against the upstream C one (i2c-mv64xxx) on the board's
# r_i2c, in BENCH_ROUNDS (5) alternating rounds: each round loads one driver, measures,
# unloads it, then the other (which goes first flips every round). Per round and driver:
# - a 1-byte write plus a 256-byte read of the AT24 EEPROM at 0x50, I2C_BENCH_EEPROM (100)
#   transfers timed in one process (kt298-i2c xfer: no process start-up in the way), and
#   the controller's interrupts per transfer;
# - a 1-byte write plus a 7-byte read of the DS1338 at 0x68 (the size of an RTC read),
#   I2C_BENCH_SMALL (300) transfers the same way;
# - RTC_RD_TIME through the C rtc-ds1307 on that bus driver (kt298-rtc read,
#   I2C_BENCH_SMALL reads in one process).
# Rows: '@bench GROUP | MEASURE | OURS | UPSTREAM | UNIT | TARGET', times as the median
# over the rounds and the best round, counts as the median. Target: ours costs at most
# what the C driver does (ratio <= 1.0).
. /tests/lib/bench.sh
. /tests/lib/rtc.sh

PDEV=/sys/bus/platform/devices/1f02400.i2c
N_EEPROM=${I2C_BENCH_EEPROM:-100}
N_SMALL=${I2C_BENCH_SMALL:-300}

# The bus number of r_i2c's adapter, once a bus driver has bound it.
bus_of_r_i2c() {
	for i in 1 2 3 4 5 6 7 8 9 10; do
		for a in "$PDEV"/i2c-*; do
			[ -d "$a" ] && { basename "$a" | sed 's/i2c-//'; return 0; }
		done
		sleep 0.1
	done
	return 1
}

# Interrupts counted so far on the line named $1 (all CPUs).
irqs() {
	awk -v name="$1" '$NF == name { s = 0; for (i = 2; i <= NF; i++) { if ($i !~ /^[0-9]+$/) break; s += $i } print s }' /proc/interrupts
}

# xfer ADDR N LEN: us per transfer of N 1+LEN-byte transfers to ADDR on $bus; "-" and a
# '# ... failed' line if the loop failed.
xfer() {
	if _out=$(kt298-i2c xfer "$bus" "$1" "$2" "$3" 2>&1); then
		echo "# $drv: $_out" >&2
		echo "$_out" | sed -n 's/.*us_per_xfer=\([0-9.]*\).*/\1/p'
	else
		echo "# round $round, $drv: kt298-i2c xfer $bus $1 $2 $3 failed: $_out" >&2
		echo -
	fi
}

# ds1307_read: us per RTC_RD_TIME of the C rtc-ds1307 on $bus; "-" if it failed.
ds1307_read() {
	if ! modprobe rtc-ds1307; then
		echo "# round $round, $drv: modprobe rtc-ds1307 failed" >&2
		echo -
		return
	fi
	rtc=
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		rtc=$(rtc_of_client "$bus-0068") && break
		sleep 0.1
	done
	if [ -z "$rtc" ]; then
		echo "# round $round, $drv: rtc-ds1307 registered no RTC for $bus-0068: failed" >&2
		echo -
	elif kt298-rtc read "/dev/$rtc" 20 >/dev/null 2>&1 && _out=$(kt298-rtc read "/dev/$rtc" "$N_SMALL" 2>&1); then
		echo "# $drv: rtc-ds1307: $_out" >&2
		echo "$_out" | sed -n 's/.*us_per_read=\([0-9.]*\).*/\1/p'
	else
		echo "# round $round, $drv: kt298-rtc read /dev/$rtc failed: $_out" >&2
		echo -
	fi
	modprobe -r rtc-ds1307
}

# measure DRIVER IRQNAME SIDE: one round of DRIVER; appends its values to SIDE's lists
# (ours_* or c_*).
measure() {
	drv=$1
	e=- ei=- s=- r=-
	if ! modprobe "$drv"; then
		echo "# round $round: modprobe $drv failed"
	elif ! bus=$(bus_of_r_i2c); then
		echo "# round $round: $drv bound no adapter on r_i2c: failed"
	else
		# A few transfers first: they resume the runtime-suspended controller.
		kt298-i2c xfer "$bus" 0x50 5 256 >/dev/null 2>&1
		i0=$(irqs "$2")
		e=$(xfer 0x50 "$N_EEPROM" 256)
		i1=$(irqs "$2")
		[ "$e" = - ] || ei=$(awk -v d=$((i1 - i0)) -v n="$N_EEPROM" 'BEGIN { printf "%.3f", d / n }')
		kt298-i2c xfer "$bus" 0x68 5 7 >/dev/null 2>&1
		s=$(xfer 0x68 "$N_SMALL" 7)
		r=$(ds1307_read)
	fi
	modprobe -r "$drv" 2>/dev/null
	eval "$3_e=\"\$$3_e $e\" $3_ei=\"\$$3_ei $ei\" $3_s=\"\$$3_s $s\" $3_r=\"\$$3_r $r\""
}

ours_e= ours_ei= ours_s= ours_r= c_e= c_ei= c_s= c_r=
round=1
while [ $round -le "$BENCH_ROUNDS" ]; do
	if [ $((round % 2)) = 1 ]; then
		measure i2c_mv64xxx_rs i2c_mv64xxx_rs ours
		measure i2c-mv64xxx mv64xxx_i2c c
	else
		measure i2c-mv64xxx mv64xxx_i2c c
		measure i2c_mv64xxx_rs i2c_mv64xxx_rs ours
	fi
	echo "# round $round: eeprom $ours_e / $c_e; small $ours_s / $c_s; rtc-ds1307 $ours_r / $c_r"
	round=$((round + 1))
done

G=i2c-mv64xxx
bench_rows time $G "1+256-byte EEPROM read, I2C_RDWR in one process" us "<=1.0" "$ours_e" "$c_e"
bench_rows count $G "interrupts per 1+256-byte transfer" irq "<=1.0" "$ours_ei" "$c_ei"
bench_rows time $G "1+7-byte DS1338 read, I2C_RDWR in one process" us "<=1.0" "$ours_s" "$c_s"
bench_rows time $G "RTC_RD_TIME by C rtc-ds1307 on each bus driver (1+7 bytes)" us "<=1.0" "$ours_r" "$c_r"
