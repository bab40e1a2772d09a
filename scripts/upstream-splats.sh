#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# upstream-splats.sh MACHINE: boot MACHINE (x86_64 or arm) with the suite's kernel and
# none of our modules (kt298.mode=boot: /init loads nothing and powers off), and list
# every splat in its kernel log, with where it appeared and whether
# tests/known-upstream-splats knows it. This is how an entry of that list is shown to be
# upstream's; KT_APPEND= adds kernel parameters, e.g.
#   KT_APPEND=kunit.filter_glob=rust_doctests_kernel.rust_doctest_kernel_time_hrtimer*
# to run only some of the KUnit tests built into the kernel (the kernel crate's doc
# examples, ours among them, run at boot). Exits non-zero if a splat is not known, or the
# kernel log is not whole.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
m=${1:?usage: upstream-splats.sh x86_64|arm}
case $m in x86_64 | arm) ;; *) die "MACHINE must be arm or x86_64, not '$m'" ;; esac

build_host_tools
kt_prepare "$m" "$RUN/$m.cpio.gz"
log=$RUN/$m-boot.log
log "booting $m with none of our modules (kernel parameters: ${KT_APPEND:-none}; log: $log)"
start=$(date +%s)
"$here/qemu.sh" "$m" "$KB" "$RUN/$m.cpio.gz" boot "$log"
log "$m booted and powered off in $(($(date +%s) - start)) s"
grep -q '@@kt298 exit' "$log" || die "the guest did not finish; see $log"
grep -q "@@kt298 modules" "$log" && die "the guest ran the suite (a /init without kt298.mode=boot?)"
exec "$REPORT" splats "$m" "${log%.log}.kernel.log"
