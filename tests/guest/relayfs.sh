#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: x86_64
#
# relayfs: the file system, the sample producer (threads on every CPU plus a
# hard-interrupt timer) and the relay-consume tool reading by read() and by
# mmap()+poll(); no gaps when the consumer keeps up, gaps accounted for by the
# lost counters when it does not, overwrite mode keeping the newest data,
# reset and close during writes, CPU offline/online during writes, readers
# outliving the producer, and the bad inputs (mmap sizes and offsets,
# ioctls, unmount and unload while busy).
. /tests/lib/ktap.sh

# The standard mount point, as the README says to mount it.
mnt=/sys/kernel/relayfs
base=$mnt/kt298/events

# produce ARGS...: load the sample producer with ARGS.
produce() {
	modprobe relay_producer "$@"
}

# stop_producer: unload it (closes the channel).
stop_producer() {
	rmmod relay_producer
}

# stat_total KEY: KEY summed over the CPUs of the stats file.
stat_total() {
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$base.stats" | awk '{ s += $1 } END { print s + 0 }'
}

# consume ARGS...: run relay-consume on the channel, output shown as diagnostics.
consume() {
	_out=$(relay-consume "$@" "$base" 2>&1)
	_rc=$?
	printf '%s\n' "$_out" | sed 's/^/# /'
	return $_rc
}

dmesg_start=$(dmesg | wc -l)
ncpu=$(grep -c ^processor /proc/cpuinfo)
t_eq "the guest has 4 CPUs" 4 "$ncpu"

t_check "relayfs loads" modprobe relayfs
t_check "relayfs is a file system type" grep -qw relayfs /proc/filesystems
t_check "its mount point /sys/kernel/relayfs exists" test -d /sys/kernel/relayfs
t_check "mount -t relayfs" mount -t relayfs none $mnt
t_check "the relay KUnit suites passed" sh -c \
	'grep -q "^ok" /sys/kernel/debug/kunit/rust_kernel_relay/results &&
	 grep -q "^ok" /sys/kernel/debug/kunit/rust_kernel_relay_geometry/results'

# 1. A consumer that keeps up, by read(): every event, no gaps. Threads on
# every CPU write 5000 events/s each for 4 s (the buffer holds 0.8 s); a
# hard-interrupt timer adds more. They start 3 s after loading, so that the
# consumer is reading by then. (TCG with KASAN on 2 host cores: faster rates
# outrun a reader that shares the CPUs.)
produce count=20000 rate=5000 irq_us=500 delay_ms=3000 n_subbufs=16
t_check "one file per CPU and a stats file" sh -c \
	"test -e ${base}0 && test -e ${base}3 && test -e $base.stats"
t_check "stats show the geometry" sh -c "grep -qx 'subbuf_size 16384' $base.stats && grep -qx 'n_subbufs 16' $base.stats"
t_check "read(): all CPUs, no gaps" consume --count 20000 --expect-no-gaps --check-lost --timeout 120
t_eq "no event lost" 0 "$(stat_total lost_full)"
t_check "unload the producer" stop_producer
t_check "its files are gone" sh -c "! test -e ${base}0"

# 2. The same by mmap() and poll(), with interrupt writes too.
produce count=20000 rate=5000 irq_us=500 delay_ms=3000 n_subbufs=16
t_check "mmap()+poll(): all CPUs, no gaps" consume --mmap --count 20000 --expect-no-gaps --check-lost --timeout 120
stop_producer

# 3. A consumer that falls behind a small buffer: events are lost, and the
# gaps in the numbers are exactly the lost events.
produce count=30000 rate=0 subbuf_size=4096 n_subbufs=4
t_check "slow read(): gaps match the lost counters" consume --slow 3000 --count 30000 --check-lost --timeout 180
lost=$(stat_total lost_full)
t_check "events were lost ($lost)" test "$lost" -gt 0
stop_producer
produce count=30000 rate=0 subbuf_size=4096 n_subbufs=4
t_check "slow mmap(): gaps match the lost counters" consume --mmap --slow 3000 --count 30000 --check-lost --timeout 180
stop_producer

# 4. Overwrite (flight recorder): nobody reads while 30000 events per CPU go
# into a small buffer; afterwards the buffer holds the newest ones.
produce count=30000 rate=0 subbuf_size=4096 n_subbufs=4 overwrite=1
i=0
while [ "$(stat_total events)" -lt $((30000 * ncpu)) ] && [ $i -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done
t_eq "overwrite: every event stored" $((30000 * ncpu)) "$(stat_total events)"
t_check "overwrite: the newest events are there" consume --overwrite --count 30000 --timeout 60
stop_producer

# 5. Reset during writes: no torn records, numbers still increase.
produce rate=0 reset_ms=20
t_check "reset during writes: records stay whole" consume --timeout 3 --duration 3
t_check "close during writes: readers drain and see the end" sh -c \
	"relay-consume --timeout 60 $base > /tmp/close.out 2>&1 & pid=\$!; sleep 2; rmmod relay_producer; wait \$pid"
sed 's/^/# /' /tmp/close.out

# 6. CPU offline and online while writing and reading.
produce rate=20000 irq_us=500
relay-consume --timeout 120 --check-lost "$base" > /tmp/hotplug.out 2>&1 &
pid=$!
sleep 1
t_check "cpu2 offline during writes" sh -c "echo 0 > /sys/devices/system/cpu/cpu2/online"
sleep 1
t_check "cpu3 offline during writes" sh -c "echo 0 > /sys/devices/system/cpu/cpu3/online"
sleep 1
t_check "cpu2 and cpu3 online again" sh -c \
	"echo 1 > /sys/devices/system/cpu/cpu2/online && echo 1 > /sys/devices/system/cpu/cpu3/online"
sleep 1
stop_producer
wait $pid
rc=$?
sed 's/^/# /' /tmp/hotplug.out
t_eq "hotplug: every event accounted for" 0 "$rc"

# 7. A reader outlives the producer: it drains, then reads end of file.
produce count=1000 rate=0
sleep 1
exec 3<"${base}0"
t_check "unload the producer with a reader attached" stop_producer
t_check "the reader drains and sees the end" sh -c "cat <&3 >/tmp/drain.bin"
t_check "it read whole events" sh -c "test \$((\$(wc -c </tmp/drain.bin) % 64)) -eq 0"
exec 3<&-

# 8. Bad input.
produce count=100 rate=0
sleep 1
out=$(relay-consume --probe "${base}0" 2>&1)
printf '%s\n' "$out" | sed 's/^/# /'
t_eq "mmap of the wrong size: EINVAL" "EINVAL" "$(echo "$out" | sed -n 's/^mmap_size=//p')"
t_eq "mmap at an offset: EINVAL" "EINVAL" "$(echo "$out" | sed -n 's/^mmap_offset=//p')"
t_check "mmap for writing is refused" sh -c "echo '$out' | grep -Eq '^mmap_write=(EACCES|EPERM)$'"
t_eq "mmap of the whole buffer works" "ok" "$(echo "$out" | sed -n 's/^mmap_whole=//p')"
t_eq "unknown ioctl: ENOTTY" "ENOTTY" "$(echo "$out" | sed -n 's/^ioctl_unknown=//p')"
t_eq "padding of a sub-buffer not yet complete: EINVAL" "EINVAL" "$(echo "$out" | sed -n 's/^padding_future=//p')"
t_check_fails "writing to a channel file fails" sh -c "echo x > ${base}0"
t_check_fails "unmount while a file is open fails" sh -c "exec 4<${base}1; umount $mnt"
t_check_fails "relayfs cannot be unloaded while mounted" rmmod relayfs
t_check "unmount while a channel exists fails with EBUSY" sh -c \
	"! umount $mnt 2>/tmp/umount.err && grep -qi busy /tmp/umount.err"
mkdir -p /tmp/relay2
mount -t relayfs none /tmp/relay2
t_check "so does a second mount that was never entered" sh -c \
	"! umount /tmp/relay2 2>/tmp/umount.err && grep -qi busy /tmp/umount.err"
t_check "a lazy unmount detaches it" sh -c "umount -l /tmp/relay2 && ! grep -q ' /tmp/relay2 ' /proc/mounts"
stop_producer
t_check "unmount once the channels are gone" umount $mnt
mount -t relayfs none /tmp/relay2
t_check "a mount made with no channels unmounts" umount /tmp/relay2
t_check "relayfs unloads" rmmod relayfs
t_check_fails "and its mount point goes with it" test -e /sys/kernel/relayfs

# The benchmark sample, briefly: two channel pairs (ours next to the C relay's),
# one round of 2000 writes of each kind on one CPU and on all of them.
bstart=$(dmesg | wc -l)
t_check "relay_bench loads (2 channel pairs, 2000 events)" \
	modprobe relay_bench events=2000 rounds=1 pairs=2
rmmod relay_bench 2>/dev/null
bout=$(dmesg | tail -n +$((bstart + 1)) | sed -n 's/.*relay_bench: //p')
printf '%s\n' "$bout" | sed 's/^/# /'
t_eq "relay_bench reports four measures" 4 "$(printf '%s\n' "$bout" | grep -c ' pairs=2$')"
bcpus=$(printf '%s\n' "$bout" | sed -n 's/^all_cpus_irq .* cpus=\([0-9]*\) pairs=2$/\1/p')
t_eq "relay_bench stored all its events, lost none" \
	"ours: $((2 * 2 * 2000 * (1 + ${bcpus:-0}))) events stored, 0 lost" \
	"$(printf '%s\n' "$bout" | grep '^ours:')"

t_check "no kernel warnings" sh -c \
	"! dmesg | tail -n +$((dmesg_start + 1)) | grep -E 'WARNING|BUG|Oops|KASAN|circular locking|leak'"
t_done
