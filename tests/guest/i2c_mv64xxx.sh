#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm
#
# The Rust MV64xxx I2C driver (i2c_mv64xxx_rs) on the Orange Pi PC's r_i2c, where QEMU
# puts a DS1338 RTC at 0x68 and a 256-byte AT24 EEPROM at 0x50 (described in the board's
# device-tree overlay). The same checks then run against the upstream C driver
# (i2c-mv64xxx), and the EEPROM contents each driver reads must be identical.
. /tests/lib/ktap.sh

PDEV=/sys/bus/platform/devices/1f02400.i2c

# The bus number of r_i2c's adapter, once a driver has bound it.
bus_of_r_i2c() {
	for a in "$PDEV"/i2c-*; do
		[ -d "$a" ] && { basename "$a" | sed 's/i2c-//'; return 0; }
	done
	return 1
}

# The addresses i2cdetect finds (answering or in use), space separated.
detected() {
	i2cdetect -y "$1" | awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "--") printf "%s ", $i }'
}

# hexbytes START COUNT: "0x.. 0x.." for the pattern START, START+1, ... (mod 256).
hexbytes() {
	awk -v s="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s0x%02x", (i ? " " : ""), (s + i) % 256 }'
}

# One driver's run. $1: module, $2: platform driver name, $3: label for the results.
run_suite() {
	mod=$1 drv=$2 tag=$3

	t_check "$tag: modprobe $mod" modprobe "$mod"
	t_check "$tag: it binds r_i2c" test "$(basename "$(readlink -f "$PDEV/driver")")" = "$drv"
	if ! bus=$(bus_of_r_i2c); then
		t_fail "$tag: r_i2c has an adapter"
		return
	fi
	t_ok "$tag: r_i2c is i2c-$bus"

	t_eq "$tag: i2cdetect finds exactly the EEPROM and the RTC" "50 68 " "$(detected "$bus")"

	# Raw I2C: an 8-byte write, then a write + read with a repeated START.
	t_check "$tag: i2ctransfer writes 8 bytes" i2ctransfer -y "$bus" w9@0x50 0x08 $(hexbytes 0x10 8)
	t_eq "$tag: i2ctransfer reads them back" "$(hexbytes 0x10 8)" "$(i2ctransfer -y "$bus" w1@0x50 0x08 r8)"
	t_check "$tag: i2ctransfer writes another page" i2ctransfer -y "$bus" w9@0x50 0x10 $(hexbytes 0xf8 8)
	t_eq "$tag: a 16-byte read crosses both pages" "$(hexbytes 0x10 8) $(hexbytes 0xf8 8)" \
		"$(i2ctransfer -y "$bus" w1@0x50 0x08 r16)"
	# Write, read, write, read in one transfer. The C driver sends STOP after the first read
	# and reports all four messages done without doing the last two (an upstream bug).
	four=$(i2ctransfer -y "$bus" w1@0x50 0x0a r2 w1@0x50 0x12 r2 | tr '\n' ' ' | sed 's/ $//')
	if [ "$tag" = rust ]; then
		t_eq "$tag: four messages in one transfer" "$(hexbytes 0x12 2) $(hexbytes 0xfa 2)" "$four"
	else
		t_skip "$tag: four messages in one transfer" "upstream stops after a read that isn't last (got '$four')"
	fi

	# SMBus calls, emulated by the I2C core on top of our transfers.
	t_check "$tag: i2cset byte" i2cset -y "$bus" 0x50 0x20 0xa5
	t_eq "$tag: i2cget byte" "0xa5" "$(i2cget -y "$bus" 0x50 0x20)"
	t_check "$tag: i2cset word" i2cset -y "$bus" 0x50 0x22 0x1234 w
	t_eq "$tag: i2cget word" "0x1234" "$(i2cget -y "$bus" 0x50 0x22 w)"
	t_eq "$tag: the word is little endian" "0x34 0x12" "$(i2ctransfer -y "$bus" w1@0x50 0x22 r2)"

	# An SMBus block read (I2C_M_RECV_LEN): the EEPROM's byte at the command offset is taken
	# as the block length. Only our driver offers it; the C driver says it can't. Busybox
	# 1.35's i2cdump prints the length byte and the first three data bytes as one word:
	# "00: 33221104 44 00 00" for the block 11 22 33 44.
	i2ctransfer -y "$bus" w6@0x50 0x00 0x04 0x11 0x22 0x33 0x44
	if [ "$tag" = rust ]; then
		t_check "$tag: SMBus block read of 4 bytes" sh -c \
			"i2cdump -y $bus 0x50 s >/tmp/block 2>&1; grep -q '^00: 33221104 44 ' /tmp/block || { cat /tmp/block; false; }"
	else
		t_check_fails "$tag: no SMBus block read" sh -c \
			"i2cdump -y $bus 0x50 s 2>&1 | grep -q '^00: 33221104 44 '"
	fi

	# A NACK is an error, not a hang, and the bus still works afterwards.
	t_check_fails "$tag: nobody at 0x51" i2ctransfer -y "$bus" w1@0x51 0x00
	t_eq "$tag: the bus works after a NACK" "0xa5" "$(i2cget -y "$bus" 0x50 0x20)"
	# The benchmarks' transfer loop: a NACK fails it rather than timing it.
	t_check_fails "$tag: kt298-i2c xfer fails at 0x51" kt298-i2c xfer "$bus" 0x51 3 8
	t_check "$tag: kt298-i2c xfer times 10 transfers of 1+256 bytes" sh -c \
		"kt298-i2c xfer $bus 0x50 10 256 | grep -q '^xfers=10 len=1+256 changed=0 us_per_xfer=[0-9]'"

	# The kernel's C at24 driver on our bus: the sysfs eeprom file.
	modprobe at24
	ee=/sys/bus/i2c/devices/$bus-0050/eeprom
	if [ -e "$ee" ]; then
		t_ok "$tag: at24 binds the EEPROM"
		i=0
		while [ $i -lt 256 ]; do
			printf "\\$(printf %03o $(((i * 7 + 3) % 256)))"
			i=$((i + 1))
		done >/tmp/pattern
		t_check "$tag: write 256 bytes through at24" dd if=/tmp/pattern of="$ee" bs=256 count=1
		t_check "$tag: read them back through at24" cmp /tmp/pattern "$ee"
		t_eq "$tag: raw I2C sees what at24 wrote" "0x03 0x0a 0x11 0x18" \
			"$(i2ctransfer -f -y "$bus" w1@0x50 0x00 r4)"
		# The whole EEPROM in one 256-byte read, saved to compare the drivers.
		i2ctransfer -f -y "$bus" w1@0x50 0x00 r256 >"/tmp/eeprom.$tag"
		t_eq "$tag: one 256-byte read returns the whole pattern" \
			"$(awk 'BEGIN { for (i = 0; i < 256; i++) printf "%s0x%02x", (i ? " " : ""), (i * 7 + 3) % 256 }')" \
			"$(cat "/tmp/eeprom.$tag")"
	else
		t_fail "$tag: at24 binds the EEPROM" "no $ee"
	fi
	modprobe -r at24

	# The upstream C rtc-ds1307 (m41t00 variant) on our bus.
	modprobe rtc-ds1307
	rtc=$(ls /sys/bus/i2c/devices/$bus-0068/rtc 2>/dev/null | head -n1)
	if [ -n "$rtc" ]; then
		t_ok "$tag: rtc-ds1307 registers $rtc"
		t_check "$tag: hwclock -w" hwclock -w -u -f "/dev/$rtc"
		t_check "$tag: hwclock -r shows this year" sh -c "hwclock -r -u -f /dev/$rtc | grep -q $(date -u +%Y)"
	else
		t_fail "$tag: rtc-ds1307 registers an RTC" "no rtc under $bus-0068"
	fi
	modprobe -r rtc-ds1307

	# A soak: 1000 write+read transfers, all with the same answer.
	if [ "$tag" = rust ]; then
		want=$(i2ctransfer -f -y "$bus" w1@0x50 0x00 r16)
		n=0
		while [ $n -lt 1000 ]; do
			[ "$(i2ctransfer -f -y "$bus" w1@0x50 0x00 r16)" = "$want" ] || break
			n=$((n + 1))
		done
		t_eq "$tag: 1000 transfers in a row" 1000 "$n"
		stats=/sys/kernel/debug/i2c_mv64xxx_rs-1f02400.i2c/stats
		t_check "$tag: debugfs counts the transfers" sh -c "awk '/^transfers/ { exit !(\$2 >= 1000) }' $stats"
		t_check "$tag: debugfs counts no errors or timeouts" sh -c "grep -qx 'errors 0' $stats && grep -qx 'timeouts 0' $stats"
	fi

	# Runtime PM: after a second without transfers the controller is suspended and its
	# clock gated; a transfer resumes it (and must read the right bytes), then it
	# suspends again. power/control=on keeps it resumed.
	rs=$PDEV/power/runtime_status
	clk=/sys/kernel/debug/clk/apb0-i2c/clk_enable_count
	ref=$(i2cget -f -y "$bus" 0x50 0x20)
	sleep 2
	t_eq "$tag: idle controller is runtime-suspended" suspended "$(cat "$rs")"
	if [ -r "$clk" ]; then
		t_eq "$tag: its clock is gated while suspended" 0 "$(cat "$clk")"
	else
		t_skip "$tag: its clock is gated while suspended" "no $clk"
	fi
	t0=$(cat "$PDEV/power/runtime_active_time")
	t_eq "$tag: a transfer on the suspended controller reads the right byte" "$ref" "$(i2cget -f -y "$bus" 0x50 0x20)"
	t_check "$tag: the transfer resumed it" test "$(cat "$PDEV/power/runtime_active_time")" -gt "$t0"
	sleep 2
	t_eq "$tag: idle again, suspended again" suspended "$(cat "$rs")"
	echo on >"$PDEV/power/control"
	t_eq "$tag: power/control=on resumes it" active "$(cat "$rs")"
	if [ -r "$clk" ]; then
		t_eq "$tag: its clock runs while resumed" 1 "$(cat "$clk")"
	else
		t_skip "$tag: its clock runs while resumed" "no $clk"
	fi
	echo auto >"$PDEV/power/control"
	sleep 2
	t_eq "$tag: power/control=auto lets it suspend" suspended "$(cat "$rs")"

	# Unbind and bind again, with a transfer each time and, for ours, more
	# transfers in flight from a background loop (which fail while unbound).
	ref=$(i2cget -f -y "$bus" 0x50 0x20)
	cycles=10
	[ "$tag" = rust ] && cycles=50
	inflight=
	if [ "$tag" = rust ]; then
		rm -f /tmp/stop-inflight
		(while [ ! -e /tmp/stop-inflight ]; do
			i2ctransfer -f -y "$bus" w1@0x50 0x00 r32 >/dev/null 2>&1
		done) &
		inflight=$!
	fi
	ok=0
	for i in $(seq $cycles); do
		echo 1f02400.i2c >"/sys/bus/platform/drivers/$drv/unbind" || break
		echo 1f02400.i2c >"/sys/bus/platform/drivers/$drv/bind" || break
		b=$(bus_of_r_i2c) || break
		[ "$(i2cget -f -y "$b" 0x50 0x20)" = "$ref" ] || break
		ok=$i
	done
	# Stop the loop and wait for its last transfer: i2c-dev holds the module while one runs.
	[ -n "$inflight" ] && { touch /tmp/stop-inflight; wait "$inflight"; }
	t_eq "$tag: $cycles unbind/bind cycles with a transfer each" "$cycles" "$ok"

	t_check "$tag: rmmod $mod" modprobe -r "$mod"
	t_check_fails "$tag: r_i2c is unbound" test -e "$PDEV/driver"
}

# Clients first, as a board boots with them built in: at24 and rtc_m41t00 are loaded
# before the bus driver, so they probe, and do their first transfers, inside our probe
# (at24 reads a byte, rtc_m41t00 reads the clock), while the adapter is being registered.
# This is the controller's first probe of the boot (tests/init keeps it unbound while the
# modules load for their KUnit suites): a device that has never had runtime PM enabled
# refuses to resume while it is disabled, where one that was bound before would not.
modprobe at24
modprobe rtc_m41t00
t_check "clients first: modprobe i2c_mv64xxx_rs" modprobe i2c_mv64xxx_rs
if b=$(bus_of_r_i2c); then
	ee=/sys/bus/i2c/devices/$b-0050/eeprom
	t_check "clients first: at24 binds the EEPROM during our probe" test -e "$ee"
	t_eq "clients first: the EEPROM reads through at24" "$(i2ctransfer -f -y "$b" w1@0x50 0x00 r4)" \
		"$(od -An -N4 -tx1 "$ee" 2>&1 | awk '{ for (i = 1; i <= NF; i++) printf "%s0x%s", (i > 1 ? " " : ""), $i }')"
	rtc=$(ls "/sys/bus/i2c/devices/$b-0068/rtc" 2>/dev/null | head -n1)
	t_check "clients first: rtc_m41t00 registers an RTC during our probe" test -n "$rtc"
	t_check "clients first: hwclock -w and -r on it" sh -c \
		"hwclock -w -u -f /dev/$rtc && hwclock -r -u -f /dev/$rtc | grep -q $(date -u +%Y)"
else
	t_fail "clients first: r_i2c has an adapter"
fi
modprobe -r rtc_m41t00
modprobe -r at24
t_check "clients first: rmmod i2c_mv64xxx_rs" modprobe -r i2c_mv64xxx_rs

run_suite i2c_mv64xxx_rs i2c_mv64xxx_rs rust

# Load and unload in a loop. Each round starts a background loop of transfers and unbinds
# the controller while they are in flight, then unloads the module once they have stopped:
# a module can't be unloaded while i2c-dev holds it, and an unload that races with a
# stream of new processes takes 10-15 s on the emulated board for the C driver as well
# (the kernel's module teardown, not the driver), too slow for 50 rounds.
ok=0
for i in $(seq 50); do
	modprobe i2c_mv64xxx_rs || break
	b=$(bus_of_r_i2c) || break
	(while i2ctransfer -y "$b" w1@0x50 0x00 r32 >/dev/null 2>&1; do :; done) &
	inflight=$!
	i2ctransfer -y "$b" w1@0x50 0x00 r16 >/dev/null || break
	echo 1f02400.i2c >/sys/bus/platform/drivers/i2c_mv64xxx_rs/unbind || break
	wait "$inflight"
	modprobe -r i2c_mv64xxx_rs || break
	ok=$i
done
t_eq "rust: 50 load/unbind/unload cycles with transfers in flight" 50 "$ok"

run_suite i2c-mv64xxx mv64xxx_i2c c

t_check "both drivers read the same EEPROM bytes" cmp /tmp/eeprom.rust /tmp/eeprom.c
t_check "no controller errors or timeouts were logged" sh -c '! dmesg | grep -qE "mv64xxx.*(controller error|timed out)"'
t_done
