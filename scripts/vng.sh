#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vng.sh [CMD]: run the x86_64 guest kernel under virtme-ng (the host's root
# file system, shared read-only with overlays) and CMD in it, or an
# interactive shell without CMD. In the guest, $KT_MODULES is the directory of
# our modules built for this kernel (the same path as on the host), so
# 'insmod $KT_MODULES/samples/kt298_selftest.ko' works, and $KT_TESTS is the
# checkout's tests/ directory.
#
# vng 1.42 cannot find its script I/O ports on this kernel (no udev in the
# guest) and falls back to the console, where the command's exit status is
# lost; so the command prints it and this script exits with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
command -v vng >/dev/null || die "vng is not installed (make setup installs it with pip)"
kb=$("$here/build-kernel.sh" x86_64)
mo=$("$here/build-modules.sh" x86_64)
# --verbose: without it, vng shows nothing of a console-fallback run.
args=(--run "$kb" --disable-kvm --force-9p --memory 2G --cpus 2 --verbose)
if [ $# -eq 0 ]; then
	exec vng "${args[@]}"
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout --kill-after=10 "${KT_TIMEOUT:-600}" vng "${args[@]}" --exec "export KT_MODULES=$mo KT_TESTS=$KT_REPO/tests; $*; echo \"@@kt298 vng-rc=\$?\"" </dev/null | tee "$out" || true
rc=$(sed -n 's/.*@@kt298 vng-rc=\([0-9]*\).*/\1/p' "$out" | tail -n1)
[ -n "$rc" ] || die "the vng guest did not run the command to the end"
exit "$rc"
