#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: x86_64
#
# relayfs under churn: ROUNDS rounds (50 by default) of loading relayfs,
# mounting it, loading relay_producer, reading every CPU with relay-consume
# (by read() or by mmap(), in turn), reading the stats, unloading the
# producer, unmounting and unloading relayfs, while a second process keeps
# opening the channel files (and mapping one), reading the stats file and
# mounting and unmounting relayfs elsewhere. The producer's file-open callback
# opens and closes a channel of its own (file_cb=1), so file callbacks run
# with no relay lock held; its unload report must show every open released
# and every map unmapped. Every other round the producer is loaded while
# relayfs is being unloaded, so a channel may be opened while relayfs goes
# away. The kernel log must stay clean (KASAN, lockdep; the guest's init scans
# kmemleak after every script, and the harness fails the run on any report).
. /tests/lib/ktap.sh

rounds=${ROUNDS:-50}
mnt=/mnt/relay-stress
base=$mnt/kt298/events
stop=/tmp/relay-stress.stop
mkdir -p $mnt /tmp/relay-stress-bg

# retry PRESENT CMD...: run CMD until it succeeds (while the churn still uses what it
# removes), or until PRESENT finds it gone; 200 tries 50 ms apart.
retry() {
	_present=$1
	shift
	_i=0
	until "$@" 2>/dev/null; do
		sh -c "$_present" || return 0
		_i=$((_i + 1))
		[ $_i -ge 200 ] && return 1
		sleep 0.05
	done
}
unload() { retry "grep -q '^$1 ' /proc/modules" rmmod "$1"; }
unmount() { retry "grep -q ' $1 ' /proc/mounts" umount "$1"; }

# The churn: opens, maps, stats reads, mounts and unmounts, until $stop.
churn() {
	while [ ! -e $stop ]; do
		for f in ${base}0 ${base}1 ${base}2 ${base}3; do
			# Open and close without reading (a read would wait for data).
			{ exec 5<"$f"; } 2>/dev/null && exec 5<&-
		done
		cat $base.stats >/dev/null 2>&1
		relay-consume --probe ${base}2 >/dev/null 2>&1
		if mount -t relayfs none /tmp/relay-stress-bg 2>/dev/null; then
			ls /tmp/relay-stress-bg/kt298 >/dev/null 2>&1
			# Busy while channels exist: detach it then.
			umount /tmp/relay-stress-bg 2>/dev/null || umount -l /tmp/relay-stress-bg
		fi
	done
}

rm -f $stop
churn &
churn_pid=$!

dmesg_start=$(dmesg | wc -l)
start=$(date +%s)
bad=""
r=1
while [ $r -le $rounds ]; do
	modprobe relayfs || { bad="round $r: modprobe relayfs failed"; break; }
	mount -t relayfs none $mnt || { bad="round $r: mount failed"; break; }
	modprobe relay_producer count=500 rate=0 subbuf_size=4096 n_subbufs=4 file_cb=1 ||
		{ bad="round $r: modprobe relay_producer failed"; break; }
	if [ $((r % 2)) -eq 0 ]; then how=--mmap; else how=; fi
	if ! out=$(relay-consume $how --count 500 --check-lost --timeout 30 $base 2>&1); then
		bad="round $r: relay-consume $how failed: $out"
		break
	fi
	cat $base.stats >/dev/null || { bad="round $r: stats unreadable"; break; }
	unload relay_producer || { bad="round $r: relay_producer does not unload"; break; }
	files=$(dmesg | tail -n 20 | sed -n 's/.*kt298\/events: file opens \([0-9]*\) releases \([0-9]*\) maps \([0-9]*\) unmaps \([0-9]*\).*/\1 \2 \3 \4/p' | tail -n 1)
	set -- $files
	if [ $# -ne 4 ] || [ "$1" != "$2" ] || [ "$3" != "$4" ]; then
		bad="round $r: file callbacks do not pair up: opens/releases/maps/unmaps = ${files:-none}"
		break
	fi
	unmount $mnt || { bad="round $r: $mnt stays busy"; break; }
	if [ $((r % 2)) -eq 0 ]; then
		# A channel opened while relayfs is going away.
		rmmod relayfs 2>/dev/null &
		rm_pid=$!
		modprobe relay_producer count=10 rate=0 ||
			{ bad="round $r: modprobe relay_producer during rmmod failed"; break; }
		wait $rm_pid
		unload relay_producer || { bad="round $r: relay_producer does not unload"; break; }
	fi
	unload relayfs || { bad="round $r: relayfs does not unload"; break; }
	r=$((r + 1))
done
touch $stop
wait $churn_pid
elapsed=$(($(date +%s) - start))
echo "# $((r - 1)) rounds in $elapsed s"
if [ -n "$bad" ]; then
	t_fail "$rounds rounds of load, use, unload with churn" "$bad"
	unload relay_producer
	umount -l $mnt 2>/dev/null
	unload relayfs
else
	t_ok "$rounds rounds of load, use, unload with churn ($elapsed s)"
fi
t_check_fails "relayfs is gone" grep -q '^relayfs ' /proc/modules
t_check "no kernel warnings" sh -c \
	"! dmesg | tail -n +$((dmesg_start + 1)) | grep -E 'WARNING|BUG|Oops|KASAN|circular locking|recursive locking|leak'"
t_done
