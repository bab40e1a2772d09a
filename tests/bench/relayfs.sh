#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# machines: x86_64
#
# Cost of a 64-byte relay write: kernel::relay against the kernel's C relay
# (CONFIG_RELAY), same geometry (8 x 16 KiB per CPU), overwrite mode, in one
# boot. The relay_bench module times both, on one CPU and on all CPUs at once,
# alternating rounds and keeping the best, for five channel pairs at different
# addresses, and reports the medians, while it loads.
# Rows: '@bench GROUP | MEASURE | OURS | UPSTREAM | UNIT'.
EVENTS=${RELAY_BENCH_EVENTS:-200000}

start=$(dmesg | wc -l)
modprobe relay_bench events="$EVENTS" || echo "# modprobe relay_bench failed"
rmmod relay_bench 2>/dev/null
all=$(dmesg | tail -n +$((start + 1)) | sed -n 's/.*relay_bench: //p')
echo "$all" | sed 's/^/# /'
# The medians over the channel pairs (the lines with 'pairs=').
out=$(echo "$all" | grep 'pairs=')

# row NAME LABEL: ns per event, ours and C.
row() {
	echo "$out" | awk -v n="$1" -v label="$2" '
		$1 == n {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			printf "@bench relayfs | %s | %.1f | %.1f | ns\n", label, v["ours_ns"] / v["events"], v["c_ns"] / v["events"]
		}'
}
row one_cpu_irq "64-byte write, 1 CPU, irq-safe (ns/event)"
row one_cpu_fast "64-byte write, 1 CPU, preempt-only (ns/event)"
row all_cpus_irq "64-byte write, all CPUs at once, irq-safe (ns/event)"
row all_cpus_fast "64-byte write, all CPUs at once, preempt-only (ns/event)"
# Scaling: events per microsecond on all CPUs over one CPU.
echo "$out" | awk '
	{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[$1, kv[1]] = kv[2] } }
	END {
		if (v["one_cpu_irq", "events"] == 0 || v["all_cpus_irq", "events"] == 0) exit
		o1 = v["one_cpu_irq", "events"] / v["one_cpu_irq", "ours_ns"]
		c1 = v["one_cpu_irq", "events"] / v["one_cpu_irq", "c_ns"]
		oa = v["all_cpus_irq", "events"] / v["all_cpus_irq", "ours_ns"]
		ca = v["all_cpus_irq", "events"] / v["all_cpus_irq", "c_ns"]
		printf "@bench relayfs | all-CPU throughput over 1-CPU throughput (%d CPUs) | %.2f | %.2f | x\n", v["all_cpus_irq", "cpus"], oa / o1, ca / c1
	}'
