# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the RTC tests and benchmarks. Source it: . /tests/lib/rtc.sh

# rtc_of_client CLIENT: the rtcN name of the RTC whose parent device is the I2C client
# CLIENT (a name such as 0-0068); fails if there is none (yet).
rtc_of_client() {
	for r in /sys/class/rtc/rtc*; do
		case $(readlink -f "$r/device") in
		*/"$1") basename "$r"; return 0 ;;
		esac
	done
	return 1
}
