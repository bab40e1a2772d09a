#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: x86_64
#
# kscrubd: the sysctls (good and bad values, through sysctl and /proc), off
# until started, the pool filling up, plain anonymous faults (order 0 and THP)
# served from it and reading zero, pages from /dev/kscrubd reading back zero,
# the pool draining under memory pressure (and its shrinker) and refilling,
# stopping returning its pages, load/unload loops while mappings are busy, memory
# hotplug (a DIMM's memory offline and hot-removed while the pool is full), and
# 20 rounds of start, fault, stop, unload under memory pressure.
. /tests/lib/ktap.sh

stats=/sys/kernel/debug/kscrubd/stats
vm=/proc/sys/vm

# stat KEY: one counter from the debugfs stats file.
stat() {
	sed -n "s/^$1 //p" "$stats"
}

# wait_pool OP N SECONDS: wait until the pool's page count is OP N (-ge, -lt...).
wait_pool() {
	_i=0
	while [ "$_i" -lt "$3" ]; do
		[ "$(stat pages)" "$1" "$2" ] && return 0
		sleep 1
		_i=$((_i + 1))
	done
	return 1
}

# write_fails FILE VALUE: the write must fail and leave FILE as it was.
write_fails() {
	_old=$(cat "$1")
	if echo "$2" >"$1" 2>/dev/null; then
		echo "writing '$2' to $1 succeeded"
		return 1
	fi
	[ "$(cat "$1")" = "$_old" ] || { echo "$1 changed to $(cat "$1")"; return 1; }
}

# sysctl_fails KEY VALUE: the same through busybox sysctl.
sysctl_fails() {
	_f=$vm/${1#vm.}
	_old=$(cat "$_f")
	if sysctl -w "$1=$2" >/dev/null 2>&1; then
		echo "sysctl -w $1=$2 succeeded"
		return 1
	fi
	[ "$(cat "$_f")" = "$_old" ] || { echo "$1 changed to $(cat "$_f")"; return 1; }
}

# offline_block BLOCK: take a memory block offline; a block that stays online is an error.
offline_block() {
	# Offlining retries until it is interrupted while a page will not migrate.
	timeout 20 sh -c "echo offline >$1/state" 2>/dev/null
}

# Kernel messages from here on are this script's.
dmesg_start=$(dmesg | wc -l)

# The x86_64 debug guest has a 512 MiB DIMM, online in ZONE_MOVABLE (scripts/qemu.sh). While
# a zone above the normal zones has room, faults take no pool page (see the hotplug section
# below), so its memory blocks stay offline until then.
mblocks=
for b in /sys/devices/system/memory/memory[0-9]*; do
	[ "$(cat "$b/state" 2>/dev/null)" = online ] &&
		[ "$(cat "$b/valid_zones" 2>/dev/null)" = Movable ] &&
		offline_block "$b" && mblocks="$mblocks $b"
done

t_check "kscrubd loads" modprobe kscrubd
t_check "thread kscrubd0 runs" sh -c 'grep -qx kscrubd0 /proc/[0-9]*/comm'
t_check "its KUnit suite passed" sh -c 'grep -q "^ok" /sys/kernel/debug/kunit/kscrubd_policy/results'

# Defaults from 2005: off until an order is written to scrub_start.
t_eq "scrub_start defaults to 0 (off)" 0 "$(cat $vm/scrub_start)"
t_eq "scrub_stop defaults to 4" 4 "$(cat $vm/scrub_stop)"
t_eq "scrub_load defaults to 999" 999 "$(cat $vm/scrub_load)"
t_eq "sysctl reads scrub_start" "vm.scrub_start = 0" "$(sysctl vm.scrub_start)"
sleep 3
t_eq "loaded but not started, it zeroes nothing" "0 0" "$(stat pages) $(stat bytes_zeroed)"
fh0=$(stat fault_hits)
t_check "plain anonymous memory reads zero while it is off" kscrubd-test anon 1024
t_eq "and no fault took a pool page" "$fh0" "$(stat fault_hits)"

# Good values.
t_check "sysctl -w vm.scrub_start=8" sysctl -w vm.scrub_start=8
t_eq "scrub_start is 8" 8 "$(cat $vm/scrub_start)"
t_check "echo 5 > scrub_stop" sh -c "echo 5 > $vm/scrub_stop"
t_eq "scrub_stop is 5" 5 "$(cat $vm/scrub_stop)"
t_check "stop may equal start" sh -c "echo 8 > $vm/scrub_stop"
t_check "start 0 (off) is allowed whatever stop is" sh -c "echo 0 > $vm/scrub_start && echo 8 > $vm/scrub_start"
t_check "sysctl -w vm.scrub_load=50" sysctl -w vm.scrub_load=50
t_eq "scrub_load is 50" 50 "$(cat $vm/scrub_load)"

# Bad values: refused, values unchanged.
t_check "garbage refused (proc)" write_fails $vm/scrub_start abc
t_check "garbage refused (sysctl)" sysctl_fails vm.scrub_stop 4x
t_check "negative refused (proc)" write_fails $vm/scrub_stop -1
t_check "negative refused (sysctl)" sysctl_fails vm.scrub_load -5
t_check "order above max refused (proc)" write_fails $vm/scrub_start 11
t_check "order above max refused (sysctl)" sysctl_fails vm.scrub_start 99
t_check "start below stop refused" write_fails $vm/scrub_start 7
t_check "stop above start refused (sysctl)" sysctl_fails vm.scrub_stop 9
t_check "huge number refused" write_fails $vm/scrub_load 99999999999
t_eq "scrub_start still 8" 8 "$(cat $vm/scrub_start)"
t_eq "scrub_stop still 8" 8 "$(cat $vm/scrub_stop)"

# The writes above started it (at order 8): stop it, which empties the pool,
# then start it with the suggested orders (stop first: it stays at or below start).
echo 0 >$vm/scrub_start
t_check "stopped again, the pool is empty" wait_pool -lt 1 10
echo 4 >$vm/scrub_stop
echo 6 >$vm/scrub_start
echo 999 >$vm/scrub_load
target=$(cat $vm/scrub_pool_pages)
t_eq "pool target defaults to 4096 pages" 4096 "$target"
# Every process's faults nibble at the pool, and kscrubd zeroes whole blocks of
# order scrub_stop or more: "full" is within one such block of the target.
full=$((target - 16))

t_check "the pool fills to its target" wait_pool -ge "$full" 60
echo "# $(tr '\n' ' ' <"$stats")"
t_check "its untouched blocks are of orders 4 to 6 only" sh -c "sed -n 's/^blocks //p' $stats | awk '{ o = 0; for (i = 1; i <= NF; i++) if (i < 5 || i > 7) o += \$i; exit (o != 0 || \$5 * 16 + \$6 * 32 + \$7 * 64 < $target / 2) }'"

hits0=$(stat hits)
t_check "2048 pages from /dev/kscrubd read zero" kscrubd-test zero 2048
hits1=$(stat hits)
t_check "they came from the pool (hits $hits0 -> $hits1)" test "$((hits1 - hits0))" -ge 2000
t_check "the pool refills" wait_pool -ge "$full" 60
# With scrub_load=0 nothing is zeroed: the pool runs dry and faults fall back.
echo 0 >$vm/scrub_load
t_check "8192 pages (more than the pool) read zero" kscrubd-test zero 8192
t_check "misses were counted" test "$(stat misses)" -gt 0
t_check "the pool stays empty while the load is too high" test "$(stat pages)" -lt 1024
echo 999 >$vm/scrub_load

# Every process's anonymous faults take pool pages, which read zero.
t_check "the pool refills for anonymous faults" wait_pool -ge "$full" 60
fh0=$(stat fault_hits)
t_check "2048 plain anonymous pages read zero" kscrubd-test anon 2048
fh1=$(stat fault_hits)
t_check "about one pool page per fault (fault_hits $fh0 -> $fh1)" \
	sh -c "[ $((fh1 - fh0)) -ge 1900 ] && [ $((fh1 - fh0)) -le 2600 ]"
# THP faults take whole order-9 blocks, as compound folios.
thp=/sys/kernel/mm/transparent_hugepage/enabled
if grep -q '\[madvise\]\|\[always\]' $thp 2>/dev/null; then
	echo 0 >$vm/scrub_start
	wait_pool -lt 1 10
	echo 9 >$vm/scrub_start
	echo 9 >$vm/scrub_stop
	t_check "the pool fills with order-9 blocks" sh -c "
		i=0; while [ \$i -lt 60 ]; do
			[ \$(sed -n 's/^blocks //p' $stats | awk '{ print \$10 }') -ge 6 ] && exit 0
			sleep 1; i=\$((i + 1)); done; exit 1"
	th0=$(stat fault_thp_hits)
	out=$(kscrubd-test anon-thp 8 2>&1)
	t_check "8 MiB of MADV_HUGEPAGE memory reads zero ($(echo $out | tr '\n' ' '))" \
		sh -c "echo '$out' | grep -q '^nonzero=0'"
	th1=$(stat fault_thp_hits)
	t_check "its 4 THP faults took pool folios (fault_thp_hits $th0 -> $th1)" test $((th1 - th0)) -ge 4
	fh0=$(stat fault_hits)
	t_check "order-0 faults split an order-9 block" kscrubd-test anon 100
	t_check "and were served from it" test $(($(stat fault_hits) - fh0)) -ge 100
	echo 0 >$vm/scrub_start
	wait_pool -lt 1 10
	echo 4 >$vm/scrub_stop
	echo 6 >$vm/scrub_start
	# Multi-size THP: 64 KiB folios (order 4) where MADV_HUGEPAGE asks, none of 2 MiB.
	mthp=/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled
	pmd=/sys/kernel/mm/transparent_hugepage/hugepages-2048kB/enabled
	if [ -w $mthp ] && [ -w $pmd ]; then
		echo madvise >$mthp
		echo never >$pmd
		# A folio of order k is a whole pool block of order k: zero order-4 blocks.
		echo 0 >$vm/scrub_start
		wait_pool -lt 1 10
		echo 4 >$vm/scrub_start
		t_check "the pool refills with order-4 blocks" wait_pool -ge "$full" 60
		th0=$(stat fault_thp_hits)
		t_check "8 MiB of 64 KiB folios read zero" kscrubd-test anon-thp 8 64
		th1=$(stat fault_thp_hits)
		t_check "its 128 mTHP faults took pool blocks of order 4 (fault_thp_hits $th0 -> $th1)" \
			test $((th1 - th0)) -ge 120
		echo never >$mthp
		echo inherit >$pmd
		echo 6 >$vm/scrub_start
	else
		t_skip "the pool refills with order-4 blocks" "no multi-size THP"
		t_skip "8 MiB of 64 KiB folios read zero" "no multi-size THP"
		t_skip "its 128 mTHP faults took pool blocks of order 4" "no multi-size THP"
	fi
else
	t_skip "the pool fills with order-9 blocks" "no THP"
	t_skip "8 MiB of MADV_HUGEPAGE memory reads zero" "no THP"
	t_skip "its 4 THP faults took pool folios" "no THP"
	t_skip "order-0 faults split an order-9 block" "no THP"
	t_skip "and were served from it" "no THP"
	t_skip "the pool refills with order-4 blocks" "no THP"
	t_skip "8 MiB of 64 KiB folios read zero" "no THP"
	t_skip "its 128 mTHP faults took pool blocks of order 4" "no THP"
fi
# Stopping returns the pool's pages.
echo 0 >$vm/scrub_start
t_check "scrub_start 0 stops it and empties the pool" wait_pool -lt 1 10
t_check "it stays empty while stopped" sh -c "sleep 2; [ \$(sed -n 's/^pages //p' $stats) = 0 ]"
echo 6 >$vm/scrub_start

t_check "a private writable mapping is refused" sh -c '! kscrubd-test private 2>/dev/null'
t_check "a private read-only mapping maps, and mprotect can't make it writable" kscrubd-test private-ro

# The shrinker, asked directly through debugfs (SHRINKER_DEBUG).
t_check "the pool refills again" wait_pool -ge "$full" 60
sh=$(ls -d /sys/kernel/debug/shrinker/kscrubd-* 2>/dev/null | head -1)
if [ -n "$sh" ]; then
	t_check "the shrinker counts the pool" sh -c "awk '{ exit \$2 < $full }' $sh/count"
	ret0=$(stat returned_pages)
	echo "0 0 1024" >"$sh/scan"
	t_check "a scan of 1024 gives pages back" test "$(($(stat returned_pages) - ret0))" -ge 1024
else
	t_skip "the shrinker counts the pool" "no shrinker debugfs"
	t_skip "a scan of 1024 gives pages back" "no shrinker debugfs"
fi

# Real memory pressure.
t_check "the pool is full before pressure" wait_pool -ge "$full" 60
out=$(kscrubd-test pressure "$stats" 4096 2>&1)
echo "# $(echo "$out" | tr '\n' ' ')"
before=$(echo "$out" | sed -n 's/^pool_before=//p')
during=$(echo "$out" | sed -n 's/^pool_during=//p')
t_check "the pool drains under memory pressure ($before -> $during pages)" test "$((during * 2))" -lt "$before"
t_check "and refills after it" wait_pool -ge "$full" 60

# Load/unload while busy: mappings outlive the module and keep faulting.
ok=1
for i in 1 2 3 4 5; do
	modprobe kscrubd 2>/dev/null || true
	kscrubd-test hold 1024 2 >/tmp/hold.$i 2>&1 &
	hold=$!
	kscrubd-test zero 512 >/dev/null || { ok=0; echo "# zero failed in round $i"; }
	modprobe -r kscrubd || { ok=0; echo "# unload failed in round $i"; }
	wait $hold || { ok=0; echo "# hold failed in round $i: $(cat /tmp/hold.$i)"; }
done
[ $ok = 1 ] && t_ok "5 load/unload rounds with live mappings" || t_fail "5 load/unload rounds with live mappings"

# drop_caches asks every shrinker, the pool's too.
modprobe kscrubd
echo 6 >$vm/scrub_start
t_check "the pool fills before drop_caches" wait_pool -ge "$full" 60
echo 0 >$vm/scrub_load
echo 3 >/proc/sys/vm/drop_caches
t_check "drop_caches gives the pool back ($(stat pages) pages left)" test "$(stat pages)" -lt $((target / 2))
echo 999 >$vm/scrub_load
modprobe -r kscrubd

# Memory hotplug. The pool's pages come from the normal zones, never from ZONE_MOVABLE, which
# memory offlining empties by migration (nothing can migrate a pooled page); and while
# ZONE_MOVABLE, where user pages go first, has room, faults take no pool page. The DIMM's
# memory comes online, then goes offline and back with a pool full that would take most of it
# if the pool could use movable memory; last, the DIMM is ejected (hot-removed) with the pool
# still full, after which faults take pool pages again. Without the DIMM (vng, a kernel
# without ACPI memory hotplug) the section skips with the reason.
# The free pages of ZONE_MOVABLE, from /proc/zoneinfo.
movable_free() {
	awk '/^Node .* zone +Movable/ { m = 1; next } /^Node/ { m = 0 }
		m && $1 == "pages" && $2 == "free" { print $3; exit }' /proc/zoneinfo
}
if [ -z "$mblocks" ]; then
	t_skip "the pool leaves ZONE_MOVABLE alone, and a DIMM is hot-removed with it full" \
		"no movable memory block goes offline (no hot-added DIMM in this guest)"
else
	n=$(echo $mblocks | wc -w)
	echo "# DIMM memory blocks:$(for b in $mblocks; do printf ' %s' "${b##*/}"; done)"
	for b in $mblocks; do echo online_movable >"$b/state"; done
	on=0
	for b in $mblocks; do [ "$(cat "$b/valid_zones")" = Movable ] && on=$((on + 1)); done
	t_eq "the DIMM's $n memory blocks come online in ZONE_MOVABLE" "$n" "$on"
	modprobe kscrubd
	free0=$(movable_free)
	# Larger than the free memory outside ZONE_MOVABLE can leave room for: a pool that
	# could take movable memory would.
	echo 65536 >$vm/scrub_pool_pages
	echo 6 >$vm/scrub_start
	t_check "a pool of 65536 pages fills (49152 or more)" wait_pool -ge 49152 60
	free1=$(movable_free)
	echo "# pool: $(stat pages) pages; ZONE_MOVABLE free: $free0 before, $free1 after"
	t_check "the pool takes no memory from ZONE_MOVABLE" \
		test $((free0 - free1)) -lt 4096
	fh0=$(stat fault_hits)
	t_check "2048 plain anonymous pages read zero" kscrubd-test anon 2048
	fh1=$(stat fault_hits)
	t_eq "while ZONE_MOVABLE has room, faults take no pool page (fault_hits $fh0 -> $fh1)" \
		0 $((fh1 - fh0))
	failed=
	for b in $mblocks; do
		if offline_block "$b"; then
			echo online_movable >"$b/state"
		else
			failed="$failed ${b##*/}"
		fi
	done
	t_check "$n movable memory blocks go offline with the pool full" \
		sh -c "[ -z '$failed' ] || { echo 'stayed online:$failed'; exit 1; }"
	back=0
	for b in $mblocks; do [ "$(cat "$b/state")" = online ] && back=$((back + 1)); done
	t_eq "and come back online" "$n" "$back"
	# Hot-remove: ejecting the DIMM's ACPI memory device offlines and removes its memory (its
	# memory blocks go away), and QEMU unplugs it.
	dimm=
	for d in /sys/bus/acpi/devices/PNP0C80:*; do [ -w "$d/eject" ] && dimm=$d; done
	mem0=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)
	[ -n "$dimm" ] && echo 1 >"$dimm/eject"
	# The ejection runs on the ACPI hotplug workqueue.
	left=$mblocks _i=0
	while [ -n "$left" ] && [ $_i -lt 600 ]; do
		sleep 0.1
		_i=$((_i + 1))
		left=$(for b in $mblocks; do [ -e "$b" ] && echo "${b##*/}"; done)
	done
	mem1=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)
	t_check "the DIMM is hot-removed with the pool full (MemTotal $mem0 -> $mem1 kB)" \
		sh -c "[ -n '$dimm' ] && [ -z '$(echo $left)' ] ||
			{ echo 'device: ${dimm:-none}; blocks left: $(echo $left)'; exit 1; }"
	fh2=$(stat fault_hits)
	t_check "then 2048 plain anonymous pages read zero" kscrubd-test anon 2048
	fh3=$(stat fault_hits)
	t_check "and take pool pages again (fault_hits $fh2 -> $fh3)" test $((fh3 - fh2)) -ge 1900
	echo 0 >$vm/scrub_start
	modprobe -r kscrubd
fi

# 20 rounds of start, fault, stop, unload under memory pressure, with a CPU
# going offline and online in every other round (KASAN, lockdep and kmemleak
# watch; the log is checked below).
ok=1
cpu1=/sys/devices/system/cpu/cpu1/online
for i in $(seq 1 20); do
	modprobe kscrubd || { ok=0; echo "# load failed in round $i"; break; }
	echo 1024 >$vm/scrub_pool_pages
	echo 6 >$vm/scrub_start
	wait_pool -ge 256 20 || echo "# round $i: the pool did not fill"
	kscrubd-test anon 4096 >/tmp/anon.$i 2>&1 &
	anon=$!
	[ $((i % 2)) = 1 ] && [ -w $cpu1 ] && echo 0 >$cpu1
	kscrubd-test pressure "$stats" 2048 >/dev/null 2>&1 || { ok=0; echo "# pressure failed in round $i"; }
	[ -w $cpu1 ] && echo 1 >$cpu1
	wait $anon || { ok=0; echo "# round $i: $(cat /tmp/anon.$i)"; }
	echo 0 >$vm/scrub_start
	modprobe -r kscrubd || { ok=0; echo "# unload failed in round $i"; break; }
done
[ $ok = 1 ] && t_ok "20 rounds of start, fault, stop, unload under pressure and CPU hotplug" ||
	t_fail "20 rounds of start, fault, stop, unload under pressure and CPU hotplug"
t_check_fails "the module is gone" grep -q '^kscrubd ' /proc/modules
t_check_fails "its threads are gone" sh -c 'grep -qx kscrubd0 /proc/[0-9]*/comm'
t_check_fails "its sysctls are gone" test -e $vm/scrub_start
t_check_fails "no BUG, WARNING or KASAN report during the test" sh -c \
	"dmesg | tail -n +$((dmesg_start + 1)) | grep -E 'BUG:|WARNING:|KASAN|suspected memory leak'"
t_done
