#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: x86_64
#
# kscrubd: the sysctls (good and bad values, through sysctl and /proc), the
# pool filling up, pages from /dev/kscrubd reading back zero, the pool
# draining under memory pressure (and its shrinker) and refilling, and
# load/unload loops while mappings are busy.
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

# Kernel messages from here on are this script's.
dmesg_start=$(dmesg | wc -l)

t_check "kscrubd loads" modprobe kscrubd
t_check "thread kscrubd0 runs" sh -c 'grep -qx kscrubd0 /proc/[0-9]*/comm'
t_check "its KUnit suite passed" sh -c 'grep -q "^ok" /sys/kernel/debug/kunit/kscrubd_policy/results'

# Defaults from 2005.
t_eq "scrub_start defaults to 6" 6 "$(cat $vm/scrub_start)"
t_eq "scrub_stop defaults to 4" 4 "$(cat $vm/scrub_stop)"
t_eq "scrub_load defaults to 999" 999 "$(cat $vm/scrub_load)"
t_eq "sysctl reads scrub_start" "vm.scrub_start = 6" "$(sysctl vm.scrub_start)"

# Good values.
t_check "sysctl -w vm.scrub_start=8" sysctl -w vm.scrub_start=8
t_eq "scrub_start is 8" 8 "$(cat $vm/scrub_start)"
t_check "echo 5 > scrub_stop" sh -c "echo 5 > $vm/scrub_stop"
t_eq "scrub_stop is 5" 5 "$(cat $vm/scrub_stop)"
t_check "stop may equal start" sh -c "echo 8 > $vm/scrub_stop"
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

# Back to the defaults (stop first: it must stay at or below start).
echo 4 >$vm/scrub_stop
echo 6 >$vm/scrub_start
echo 999 >$vm/scrub_load
target=$(cat $vm/scrub_pool_pages)
t_eq "pool target defaults to 4096 pages" 4096 "$target"

t_check "the pool fills to its target" wait_pool -ge "$target" 60
echo "# $(tr '\n' ' ' <"$stats")"
t_check "its blocks are of orders 4 to 6" sh -c "sed -n 's/^blocks //p' $stats | awk '{ exit (\$5 * 16 + \$6 * 32 + \$7 * 64 < $target) }'"

hits0=$(stat hits)
t_check "2048 pages from /dev/kscrubd read zero" kscrubd-test zero 2048
hits1=$(stat hits)
t_check "they came from the pool (hits $hits0 -> $hits1)" test "$((hits1 - hits0))" -ge 2000
t_check "the pool refills" wait_pool -ge "$target" 60
# With scrub_load=0 nothing is zeroed: the pool runs dry and faults fall back.
echo 0 >$vm/scrub_load
t_check "8192 pages (more than the pool) read zero" kscrubd-test zero 8192
t_check "misses were counted" test "$(stat misses)" -gt 0
t_check "the pool stays empty while the load is too high" test "$(stat pages)" -lt 1024
echo 999 >$vm/scrub_load
t_check "a private writable mapping is refused" sh -c '! kscrubd-test private 2>/dev/null'
t_check "a private read-only mapping maps, and mprotect can't make it writable" kscrubd-test private-ro

# The shrinker, asked directly through debugfs (SHRINKER_DEBUG).
t_check "the pool refills again" wait_pool -ge "$target" 60
sh=$(ls -d /sys/kernel/debug/shrinker/kscrubd-* 2>/dev/null | head -1)
if [ -n "$sh" ]; then
	t_check "the shrinker counts the pool" sh -c "awk '{ exit \$2 < $target }' $sh/count"
	ret0=$(stat returned_pages)
	echo "0 0 1024" >"$sh/scan"
	t_check "a scan of 1024 gives pages back" test "$(($(stat returned_pages) - ret0))" -ge 1024
else
	t_skip "the shrinker counts the pool" "no shrinker debugfs"
	t_skip "a scan of 1024 gives pages back" "no shrinker debugfs"
fi

# Real memory pressure.
t_check "the pool is full before pressure" wait_pool -ge "$target" 60
out=$(kscrubd-test pressure "$stats" 4096 2>&1)
echo "# $(echo "$out" | tr '\n' ' ')"
before=$(echo "$out" | sed -n 's/^pool_before=//p')
during=$(echo "$out" | sed -n 's/^pool_during=//p')
t_check "the pool drains under memory pressure ($before -> $during pages)" test "$((during * 2))" -lt "$before"
t_check "and refills after it" wait_pool -ge "$target" 60

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
t_check_fails "the module is gone" grep -q '^kscrubd ' /proc/modules
t_check_fails "its threads are gone" sh -c 'grep -qx kscrubd0 /proc/[0-9]*/comm'
t_check_fails "its sysctls are gone" test -e $vm/scrub_start
t_check_fails "no BUG, WARNING or KASAN report during the test" sh -c \
	"dmesg | tail -n +$((dmesg_start + 1)) | grep -E 'BUG:|WARNING:|KASAN|suspected memory leak'"
t_done
