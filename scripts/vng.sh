#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vng.sh [CMD]: run the x86_64 guest kernel under virtme-ng with the host's
# root file system, and CMD in it (an interactive shell without CMD). Our
# modules for this kernel are in $KT_MODULES inside the guest (the same path
# as on the host), so 'insmod $KT_MODULES/samples/kt298_selftest.ko' works.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
command -v vng >/dev/null || die "vng is not installed (make setup installs it with pip)"
kb=$("$here/build-kernel.sh" x86_64)
mo=$("$here/build-modules.sh" x86_64)
args=(--run "$kb" --disable-kvm --force-9p --memory 2G --cpus 2)
if [ $# -gt 0 ]; then
	exec vng "${args[@]}" --exec "export KT_MODULES=$mo; $*"
fi
exec vng "${args[@]}"
