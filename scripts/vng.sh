#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vng.sh [CMD...]: run the x86_64 guest kernel under virtme-ng (the host's root
# file system, shared read-only with overlays) and CMD in it (the arguments, or
# else $CMD from the environment, as 'make vng CMD=...' passes it), or an
# interactive shell without either. In the guest, $KT_MODULES is the directory of
# our modules built for this kernel (the same path as on the host), so
# 'insmod $KT_MODULES/samples/kt298_selftest.ko' works, and $KT_TESTS is the
# checkout's tests/ directory.
#
# With CMD: CMD's output is this script's (stdout and stderr apart), its exit
# status this script's; its stdin is /dev/null. KT_VERBOSE=1 shows the guest
# kernel's console on stderr. A guest that does not finish within KT_TIMEOUT
# seconds (default 600) is killed; then, or if the command's end was never seen
# (the guest died), this script says so and exits 125.
#
# How vng 1.42 runs CMD: its guest init (virtme-ng-init) needs the virtio-serial
# "script ports" as /dev/virtio-ports/virtme.*, links that udevd makes from the
# kernel's /sys/class/virtio-ports (the rule is in systemd's
# 50-udev-default.rules). The guest runs the host's user space, so the host
# needs udev installed (scripts/setup.sh installs it; virtme-ng's README,
# "Troubleshooting", and arighi/virtme-ng#51). Without udevd, virtme-ng-init
# "cannot find script I/O ports" and runs CMD on the serial console instead,
# where its exit status does not reach vng; so CMD's status also travels as a
# marker line on stderr, which this script takes out of the output and exits
# with: the status is right either way, and the timeout bounds every run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
command -v vng >/dev/null || die "vng is not installed (make setup installs it with pip)"
kb=$("$here/build-kernel.sh" x86_64)
mo=$("$here/build-modules.sh" x86_64)
args=(--run "$kb" --disable-kvm --force-9p --memory 2G --cpus 2)
cmd=${*:-${CMD:-}}
if [ -z "$cmd" ]; then
	exec vng "${args[@]}"
fi
# --verbose: the kernel's console on vng's stderr (and --show-boot-console).
[ "${KT_VERBOSE:-0}" = 1 ] && args+=(--verbose)
[ -e /usr/lib/systemd/systemd-udevd ] || [ -e /lib/systemd/systemd-udevd ] || command -v udevd >/dev/null ||
	warn "no udevd on this host: vng's guest will run the command on its console (install udev; see scripts/setup.sh)"

timeout=${KT_TIMEOUT:-600}
rcf=$(mktemp)
trap 'rm -f "$rcf"' EXIT
# Interrupted or timed out: exit, so that the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
# In a subshell, so that 'exit N' in CMD ends CMD, not the marker's shell.
guest="export KT_MODULES='$mo' KT_TESTS='$KT_REPO/tests'; ($cmd); kt_rc=\$?; echo \"@@kt298 vng-rc=\$kt_rc\" >&2; exit \$kt_rc"
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
exit "$cmdrc"
