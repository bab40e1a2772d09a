#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: x86_64
#
# kscrubd benchmark, the way Andrew Morton asked for it in 2005: an unmodified
# program's anonymous page faults with kscrubd started (pool full) against
# kscrubd not loaded, alternating in one boot. Rows (ratio = ours / baseline):
# - sparse touch (one byte a page), time per fault: target <= 0.8, and no more
#   than the plain fault minus the kernel's time to clear one page;
# - dense touch (every cache line), time per page: target <= 1.0;
# - 2 MiB THP faults (MADV_HUGEPAGE), time per fault: target 3x faster;
# - kscrubd's CPU time per zeroed MiB, and its zeroing throughput against the
#   kernel's clear_pages() (and memset in user space);
# - a real workload: busybox sort of 500,000 lines (its heap is anonymous
#   memory), wall time.
# Rows: @bench kscrubd | MEASURE | OURS | BASELINE | UNIT | TARGET
stats=/sys/kernel/debug/kscrubd/stats
vm=/proc/sys/vm
pages=2048
pool=$((pages * 3 + 4096))

stat() {
	sed -n "s/^$1 //p" "$stats"
}

# start_full: load kscrubd, start it at order 9 (the blocks also serve order-0
# faults) and wait for a full pool; zeroing is then paused (scrub_load 0) so
# that refilling does not compete with the timed loop for the host's cores.
start_full() {
	modprobe kscrubd || return 1
	echo $pool >$vm/scrub_pool_pages
	echo 9 >$vm/scrub_start
	echo 9 >$vm/scrub_stop
	refill
}

refill() {
	echo 999 >$vm/scrub_load
	_i=0
	# Full: within one order-9 block of the target.
	while [ "$(stat pages)" -lt $((pool - 512)) ] && [ $_i -lt 600 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	echo 0 >$vm/scrub_load
	[ "$(stat pages)" -ge $((pool - 512)) ] || echo "# the pool did not fill: $(stat pages) of $pool pages"
}

# ft KIND PAGES: the best per-fault time of `kscrubd-test fault-time`.
ft() {
	kscrubd-test fault-time "$1" "$2" | sed -n "s/^$1_ns=//p"
}

min() { [ -z "$1" ] || [ "$2" -lt "$1" ] && echo "$2" || echo "$1"; }

# Milliseconds since boot, to 10 ms (busybox date has no %N).
ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

seq 1 500000 >/tmp/lines
workload() {
	_t0=$(ms)
	sort -r /tmp/lines >/dev/null
	echo $(($(ms) - _t0))
}

bs= bd= bt= bw= os= od= ot= ow=
for round in 1 2; do
	modprobe -r kscrubd 2>/dev/null
	bs=$(min "$bs" "$(ft sparse $pages)")
	bd=$(min "$bd" "$(ft dense $pages)")
	bt=$(min "$bt" "$(ft thp $pages)")
	bw=$(min "$bw" "$(workload)")
	start_full || { echo "# modprobe kscrubd failed"; exit 0; }
	os=$(min "$os" "$(ft sparse $pages)")
	refill
	od=$(min "$od" "$(ft dense $pages)")
	refill
	h0=$(stat fault_thp_hits)
	ot=$(min "$ot" "$(ft thp $pages)")
	echo "# round $round: THP faults from the pool: $(($(stat fault_thp_hits) - h0))"
	# The workload runs with kscrubd refilling as it would in use.
	refill
	echo 999 >$vm/scrub_load
	ow=$(min "$ow" "$(workload)")
	echo "# round $round: plain sparse=$bs dense=$bd thp=$bt sort=${bw}ms; pool sparse=$os dense=$od thp=$ot sort=${ow}ms"
done

# The kernel's clear_pages() speed, as kscrubd measured it when it loaded.
clear_us=$(dmesg | sed -n 's/.*64 KiB: clear_pages \([0-9]*\) us.*/\1/p' | tail -1)
[ -n "$clear_us" ] && [ "$clear_us" -gt 0 ] || clear_us=1
clear_page_ns=$((clear_us * 1000 / 16))
echo "@bench kscrubd | sparse touch, anonymous fault | $os | $bs | ns | <=0.8"
echo "@bench kscrubd | sparse: pool fault vs plain minus one clear_page | $os | $((bs - clear_page_ns)) | ns | <=1.0"
echo "@bench kscrubd | dense touch, time per page | $od | $bd | ns | <=1.0"
echo "@bench kscrubd | THP fault (2 MiB, MADV_HUGEPAGE) | $ot | $bt | ns | <=0.333"
echo "@bench kscrubd | busybox sort of 500k lines, wall | $ow | $bw | ms | <=1.0"

# kscrubd's own cost: fill the pool from empty and read its thread's CPU time.
echo 999 >$vm/scrub_load
echo 0 >$vm/scrub_start
i=0
while [ "$(stat pages)" -gt 0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pid=$(grep -lx kscrubd0 /proc/[0-9]*/comm | head -1 | cut -d/ -f3)
cpu() { awk '{ print $14 + $15 }' /proc/$pid/stat; }
c0=$(cpu)
b0=$(stat bytes_zeroed)
n0=$(stat zero_ns)
echo 9 >$vm/scrub_start
refill
c=$(($(cpu) - c0))
b=$(($(stat bytes_zeroed) - b0))
n=$(($(stat zero_ns) - n0))
hz=100
mib=$((b >> 20))
if [ "$mib" -gt 0 ] && [ "$n" -gt 0 ]; then
	# CPU ms per zeroed MiB (from clock ticks) against clear_pages() for one MiB.
	echo "@bench kscrubd | kscrubd CPU time per zeroed MiB vs clear_pages | $(awk -v c=$c -v m=$mib -v hz=$hz 'BEGIN { printf "%.2f", c * 1000 / hz / m }') | $(awk -v u=$clear_us 'BEGIN { printf "%.2f", u * 16 / 1000 }') | ms | <=1.5"
	echo "@bench kscrubd | zeroing throughput vs clear_pages ($(stat cached_routine)) | $((b * 1000 / n)) | $((65536 * 1000 / (clear_us * 1000))) | MB/s | >=1.0"
fi
out=$(kscrubd-test memset 2>/dev/null)
v() { echo "$out" | sed -n "s/^$1=//p"; }
[ -n "$(v memset_mbps)" ] && echo "@bench kscrubd | zeroing throughput vs memset in user space | $((b * 1000 / n)) | $(v memset_mbps) | MB/s | >=1.0"
modprobe -r kscrubd
