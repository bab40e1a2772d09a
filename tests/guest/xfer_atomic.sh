#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: arm
#
# Atomic I2C transfers, as a PMIC driver makes them to switch a board off: at
# power-off, with interrupts disabled, the I2C core calls the adapter's
# xfer_atomic. This arms kt298_poweroff_i2c on r_i2c under the Rust MV64xxx
# driver; at power-off its handler reads and writes the DS1338's RAM and prints
# its own KTAP section, poweroff:i2c_atomic, which the harness then requires.
#
# It must run last (its name sorts last): the bus driver stays bound, and
# referenced, until power-off.
. /tests/lib/ktap.sh

PDEV=/sys/bus/platform/devices/1f02400.i2c

[ -e "$PDEV/driver" ] && echo 1f02400.i2c >"$PDEV/driver/unbind"
modprobe -r i2c-mv64xxx 2>/dev/null
t_check "modprobe i2c_mv64xxx_rs" modprobe i2c_mv64xxx_rs
[ -e "$PDEV/driver" ] || echo 1f02400.i2c >/sys/bus/platform/drivers/i2c_mv64xxx_rs/bind
t_check "it has r_i2c" test "$(basename "$(readlink -f "$PDEV/driver")")" = i2c_mv64xxx_rs
bus=
for a in "$PDEV"/i2c-*; do
	[ -d "$a" ] && bus=${a##*/i2c-}
done
t_check "r_i2c has an adapter" test -n "$bus"
stats=/sys/kernel/debug/i2c_mv64xxx_rs-1f02400.i2c/stats
t_check "the driver counts atomic transfers (none before power-off)" grep -qx "atomic 0" "$stats"
t_check "and those entered with interrupts on" grep -qx "atomic_irqs_on 0" "$stats"
t_check "kt298_poweroff_i2c arms on i2c-$bus (writes the RTC's RAM first)" \
	modprobe kt298_poweroff_i2c adapter="${bus:--1}"
echo "@@kt298 expect poweroff:i2c_atomic"
t_done
