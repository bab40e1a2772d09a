#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: x86_64
#
# kscrubd benchmark, with the pool warm: time per fault when one cache line of
# each page is touched (sparse) and when every line is (dense), /dev/kscrubd
# against anonymous memory; kscrubd's zeroing throughput (cached and
# non-temporal) against memset in user space; the time to zero one page.
# Rows: @bench kscrubd | MEASURE | OURS | BASELINE | UNIT
stats=/sys/kernel/debug/kscrubd/stats
pages=8192

stat() {
	sed -n "s/^$1 //p" "$stats"
}

modprobe kscrubd || { echo "# modprobe kscrubd failed"; exit 0; }
echo $((pages * 2)) >/proc/sys/vm/scrub_pool_pages

# zero_rate MODE: fill the pool from empty with vm.scrub_nontemporal=MODE and
# print "MB/s ns-per-page" of kscrubd's own zeroing.
zero_rate() {
	echo "$1" >/proc/sys/vm/scrub_nontemporal || return 1
	sh=$(ls -d /sys/kernel/debug/shrinker/kscrubd-* | head -1)
	echo "0 0 $((pages * 4))" >"$sh/scan"
	b0=$(stat bytes_zeroed)
	n0=$(stat zero_ns)
	i=0
	while [ "$(stat pages)" -lt $((pages * 2)) ] && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	b=$(($(stat bytes_zeroed) - b0))
	n=$(($(stat zero_ns) - n0))
	awk -v b="$b" -v n="$n" 'BEGIN { if (n > 0) printf "%.0f %.0f\n", b * 1000 / n, n * 4096 / b }'
}

out=$(kscrubd-test bench $pages)
echo "$out" | sed 's/^/# /'
v() { echo "$out" | sed -n "s/^$1=//p"; }

echo "@bench kscrubd | sparse touch, time per fault | $(v sparse_dev_ns) | $(v sparse_anon_ns) | ns"
echo "@bench kscrubd | dense touch, time per page | $(v dense_dev_ns) | $(v dense_anon_ns) | ns"
# The sparse target: a fault from the pool plus the time to zero a page (memset in this
# guest) is no more than an anonymous fault, i.e. the zeroing has left the fault path.
echo "@bench kscrubd | sparse fault + one page zeroing vs anonymous fault | $(($(v sparse_dev_ns) + $(v memset_page_ns))) | $(v sparse_anon_ns) | ns"
cached=$(zero_rate 0)
routine=$(stat cached_routine)
echo "@bench kscrubd | zeroing throughput (cached, $routine, vs memset) | ${cached% *} | $(v memset_mbps) | MB/s"
echo "@bench kscrubd | time to zero one page (cached, $routine, vs memset) | ${cached#* } | $(v memset_page_ns) | ns"
if nt=$(zero_rate 1 2>/dev/null) && [ -n "$nt" ]; then
	echo "@bench kscrubd | zeroing throughput (non-temporal vs memset) | ${nt% *} | $(v memset_mbps) | MB/s"
fi
modprobe -r kscrubd
