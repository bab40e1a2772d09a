#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm x86_64
#
# rtc_m41t00 on the M41T00 model (samples/i2c_m41t00_model.rs): an adapter of its own with
# a chip whose clock advances, whose reads can be made to tear and whose bus can be made to
# fail, where the emulated DS1338 and i2c-stub can't (the DS1338 latches the time at every
# START, ignores ST and misreads the century bits; i2c-stub's clock never moves).
. /tests/lib/ktap.sh
. /tests/lib/rtc.sh

F=/sys/kernel/debug/i2c_m41t00_model/faults

# The kernel log by time, not by line: the board's log buffer is full by now, so it drops a
# line for every line it takes and counting lines says nothing.
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# log_since T PATTERN: the kernel log lines stamped at T (uptime, seconds) or later that
# match the extended regular expression PATTERN.
log_since() {
	dmesg | awk -v t="$1" -v p="$2" '{ s = $0; sub(/^\[ */, "", s); split(s, f, "]") }
		f[1] + 0 >= t + 0 && $0 ~ p'
}
t0=$(uptime_s)

# stat NAME: a counter of the model's.
stat() { awk -v k="$1" '$1 == k { print $2 }' "$F/stats"; }
secs() { cat "/sys/class/rtc/$rtc/since_epoch"; }
# setregs VALUES...: write the chip's registers from 0 on, behind the driver's back.
setregs() { i2ctransfer -f -y "$bus" w$(($# + 1))@0x68 0x00 "$@"; }
# errno_of CMD...: the "os error N" number that a failing kt298-rtc prints, or "none".
errno_of() { "$@" 2>&1 | sed -n 's/.*(os error \([0-9]*\)).*/\1/p' | head -n 1 | grep . || echo none; }

modprobe -r rtc_m41t00 2>/dev/null
t_check "modprobe i2c_m41t00_model" modprobe i2c_m41t00_model
bus=
for a in /sys/bus/i2c/devices/i2c-*; do
	[ "$(cat "$a/name" 2>/dev/null)" = "i2c_m41t00_model adapter" ] && bus=${a##*/i2c-}
done
if [ -z "$bus" ]; then
	t_fail "the model has an adapter"
	t_done
	exit 0
fi
t_ok "the model is i2c-$bus"
t_eq "only 0x68 answers" "0x00" "$(i2cget -f -y "$bus" 0x68 7 2>&1)"
t_check_fails "nobody at 0x69" i2cget -f -y "$bus" 0x69 0

t_check "modprobe rtc_m41t00 century=1" modprobe rtc_m41t00 century=1
echo m41t00 0x68 >"/sys/bus/i2c/devices/i2c-$bus/new_device"
rtc=$(rtc_of_client "$bus-0068")
if [ -z "$rtc" ]; then
	t_fail "rtc_m41t00 registers an RTC on the model"
	t_done
	exit 0
fi
t_ok "rtc_m41t00 registers $rtc on the model"

# A clock that advances with the kernel's.
t_check "hwclock -w" hwclock -w -u -f "/dev/$rtc"
s0=$(secs)
sleep 2
s1=$(secs)
t_check "the clock advances: $s0, 2 s later $s1" test $((s1 - s0)) -ge 1 -a $((s1 - s0)) -le 3

# Century rollover: 2099-12-31 23:59:58 with CEB set becomes 2100 with CB set.
setregs 0x58 0x59 0xa3 0x05 0x31 0x12 0x99
sleep 3
s=$(secs)
t_check "2099-12-31 23:59:58 rolls over into 2100 ($s)" test "$s" -ge 4102444800 -a "$s" -le 4102444803
t_eq "the chip set CB (hours bit 6) at the rollover" 0x40 "$(printf '0x%02x' $(($(i2cget -f -y "$bus" 0x68 2) & 0x40)))"
# RTC_RD_TIME, not hwclock: a 32-bit guest's time_t ends in 2038.
t_check "RTC_RD_TIME reads 2100" sh -c "kt298-rtc read /dev/$rtc 1 | grep -q ' first=41024448'"

# Torn reads: the clock ticks once every 3 reads of the time registers (those that span the
# minutes), between the seconds and the minutes, so a read that spans a minute carry gets the old seconds and the
# new minutes. A driver that read the time once would return a time 59 s ahead, then step
# back; ours reads until two reads agree (or, with checked_read=1, until the seconds read
# again at the end of the same transfer agree).
echo 1 >"$F/tear_byte"
echo 3 >"$F/tear_every"
for mode in double checked; do
	if [ $mode = checked ]; then
		modprobe -r rtc_m41t00
		modprobe rtc_m41t00 century=1 checked_read=1
		rtc=$(rtc_of_client "$bus-0068")
	fi
	setregs 0x30 0x34 0x92 0x04 0x24 0x02 0x05
	torn0=$(stat torn)
	out=$(kt298-rtc steps "/dev/$rtc" 3000 2>&1)
	rc=$?
	echo "$out" | tail -n 3 | sed 's/^/# /'
	torn=$(($(stat torn) - torn0))
	t_check "$mode read: the model served torn reads ($torn)" test "$torn" -gt 10
	t_eq "$mode read: 3000 reads of a clock torn at every minute carry never step back or leap" 0 $rc
done
echo 0 >"$F/tear_every"
t_check "hwclock -w" hwclock -w -u -f "/dev/$rtc"
modprobe -r rtc_m41t00
modprobe rtc_m41t00 century=1
rtc=$(rtc_of_client "$bus-0068")

# ST: a stopped oscillator makes the time invalid until it is set.
i2cset -f -y "$bus" 0x68 0 0x80
out=$(secs 2>&1)
case $out in
*"Invalid argument"*) t_ok "ST set: reads fail with EINVAL" ;;
*) t_fail "ST set: reads fail with EINVAL" "got: $out" ;;
esac
t_eq "ST set: RTC_VL_READ reports invalid data" 1 "$(kt298-rtc vl "/dev/$rtc")"
t_check "ST set: hwclock -w" hwclock -w -u -f "/dev/$rtc"
t_eq "hwclock -w cleared ST" 0 $(($(i2cget -f -y "$bus" 0x68 0) & 0x80))
t_eq "after the set RTC_VL_READ reports valid data" 0 "$(kt298-rtc vl "/dev/$rtc")"
s0=$(secs)
sleep 2
t_check "the clock runs again after the set" test "$(secs)" -gt "$s0"

# Bus errors: each gives its errno and the next read works.
for f in nack_addr:6 nack_data:5 timeout:110 arb_lost:11 short:5; do
	knob=${f%:*} want=${f#*:}
	echo 1 >"$F/$knob"
	t_eq "$knob: RTC_RD_TIME fails with errno $want" "$want" "$(errno_of kt298-rtc read "/dev/$rtc" 1)"
	t_check "$knob: the next read works" kt298-rtc read "/dev/$rtc" 1
done
t_check "a failed read is logged" test -n "$(log_since "$t0" 'rtc_m41t00.*reading the time failed: -6')"
sleep 6
t1=$(uptime_s)
echo 20 >"$F/nack_addr"
i=0
while [ $i -lt 20 ]; do
	kt298-rtc read "/dev/$rtc" 1 >/dev/null 2>&1
	i=$((i + 1))
done
n=$(log_since "$t1" 'reading the time failed' | wc -l)
t_check "20 failed reads in a row log once ($n)" test "$n" -eq 1
t_check "after them a read works" kt298-rtc read "/dev/$rtc" 1
t_check "the model counted every injected error" test "$(stat injected)" -ge 25

t_eq "no kernel warnings during the test" "" "$(log_since "$t0" 'BUG|WARNING|Oops|KASAN' | head -n 3)"
echo 0x68 >"/sys/bus/i2c/devices/i2c-$bus/delete_device"
modprobe -r rtc_m41t00
t_check "rmmod i2c_m41t00_model" modprobe -r i2c_m41t00_model
# Leave rtc_m41t00 loaded as the board found it (the scripts after this one expect it).
[ "$(t_machine)" = arm ] && modprobe rtc_m41t00
t_done
