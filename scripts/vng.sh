#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vng.sh [CMD...]: run the x86_64 guest kernel under virtme-ng (the host's root
# file system, shared read-only with overlays) and CMD in it (the arguments, or
# else $CMD from the environment, as 'make vng CMD=...' passes it), or an
# interactive shell without either. In the guest, $KT_MODULES is the directory of
# our modules built for this kernel (the same path as on the host), so
# 'insmod $KT_MODULES/samples/kt298_selftest.ko' works, and $KT_TESTS is the
# checkout's tests/ directory; $KT_KERNELRELEASE is the release of the kernel
# built for it. KDIR=path runs the x86_64 kernel built in path instead (with our
# modules built against it), e.g. your own; it needs configs/vng.config's options.
#
# With CMD: CMD's output is this script's (stdout and stderr apart), its exit
# status this script's; its stdin is /dev/null. KT_VERBOSE=1 shows the guest
# kernel's console on stderr, every message of it. A guest that does not finish
# within KT_TIMEOUT seconds (default 900) is killed; then, or if the command's
# end was never seen (the guest died), this script says so and exits 125.
#
# How vng 1.42 runs CMD: its guest init (virtme-ng-init) needs the virtio-serial
# "script ports" as /dev/virtio-ports/virtme.*, links that udevd makes from the
# kernel's /sys/class/virtio-ports (systemd's 50-udev-default.rules). The guest
# runs the host's user space, and this host has no udev: then virtme-ng-init
# "cannot find script I/O ports" and runs CMD on the serial console, where its
# exit status does not reach vng. Upstream's answer is to install udev
# (virtme-ng's README, "Troubleshooting"; arighi/virtme-ng#51), but the host's
# udev in a TCG guest of the debug kernel took 445 s to trigger and then timed
# out settling (300 s). So vng-guest/ has an udevd that only makes those links
# (and an udevadm that defers to a real one), first on the guest init's PATH,
# where virtme-ng-init looks for udevd after systemd's paths. With udev
# installed on the host, its real udevd runs instead: slow, but right.
#
# CMD's status also travels as a marker line on stderr, which this script takes
# out of the output and exits with: the status is right even on the console
# fallback, and the timeout bounds every run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
command -v vng >/dev/null || die "vng is not installed (make setup installs it with pip)"
# KDIR= runs a kernel you built (and our modules built against it) instead of ours.
if [ -n "${KDIR:-}" ]; then kb=$KDIR; else kb=$("$here/build-kernel.sh" x86_64); fi
mo=$("$here/build-modules.sh" x86_64)
# KVM: this host's fails (QEMU asserts setting MSRs), so TCG, as qemu.sh.
args=(--run "$kb" --disable-kvm --force-9p --memory 2G --cpus 2
	--append "PATH=$here/vng-guest:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
cmd=${*:-${CMD:-}}
if [ -z "$cmd" ]; then
	exec vng "${args[@]}"
fi
# --verbose: the kernel's console on vng's stderr (and --show-boot-console), with every
# message (ignore_loglevel), and no rate limit on writes to /dev/kmsg.
[ "${KT_VERBOSE:-0}" = 1 ] && args+=(--verbose --append "ignore_loglevel printk.devkmsg=on")
if [ -e /usr/lib/systemd/systemd-udevd ] || [ -e /lib/systemd/systemd-udevd ]; then
	warn "the host's udevd will run in the vng guest: slow under TCG (minutes; see scripts/vng.sh)"
fi

timeout=${KT_TIMEOUT:-900}
rcf=$(mktemp)
trap 'rm -f "$rcf"' EXIT
# Interrupted or timed out: exit, so that the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
# In a subshell, so that 'exit N' in CMD ends CMD, not the marker's shell.
guest="export KT_MODULES='$mo' KT_TESTS='$KT_REPO/tests' KT_KERNELRELEASE='$(cat "$kb/include/config/kernel.release")'; ($cmd); kt_rc=\$?; echo \"@@kt298 vng-rc=\$kt_rc\" >&2; exit \$kt_rc"
# vng's stdout and stderr each through a filter that takes the marker out (on the console
# fallback it comes on whichever stream the console is); QEMU's file descriptors: no
# terminal for stdin (/dev/null), pipes for the rest.
filter() {
	awk -v rcf="$rcf" '/@@kt298 vng-rc=/ { s = $0; sub(/.*@@kt298 vng-rc=/, "", s); sub(/[^0-9].*/, "", s); print s >>rcf; next }
		{ print; fflush() }'
}
rc=0
{ { timeout --kill-after=10 "$timeout" vng "${args[@]}" --exec "$guest" </dev/null 2>&1 >&3 3>&- |
	filter >&2; } 3>&1 | filter; } || rc=$?
cmdrc=$(tail -n1 "$rcf")
if [ -z "$cmdrc" ]; then
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		warn "the vng guest was killed after ${timeout}s (KT_TIMEOUT)"
	else
		warn "the vng guest did not run the command to the end (vng exited $rc)"
	fi
	exit 125
fi
[ "$rc" = "$cmdrc" ] ||
	warn "vng itself exited $rc, the command $cmdrc: vng lost the status (its console fallback?)"
exit "$cmdrc"
