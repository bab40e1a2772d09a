#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh [MACHINE...]: boot each machine in bench mode; every tests/bench/*.sh
# meant for it prints '@bench GROUP | MEASURE | OURS | UPSTREAM | UNIT' rows,
# measured side by side in the same boot. Prints one table with the ratios.
# Machines: x86_64 (the debug kernel the tests run on), arm, and
# x86_64-release (the same machine with a kernel without debugging options).
# KT_BENCH=NAME[,NAME...] runs only those tests/bench/NAME.sh (e.g. KT_BENCH=kscrubd).
# A machine name with -icount appended (arm-icount, x86_64-icount,
# x86_64-release-icount) boots that machine under QEMU's -icount shift=0
# (KT_ICOUNT overrides the options): guest time is then an instruction count,
# 1 ns per instruction, and the report labels those rows so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
machines=("$@")
if [ -n "${KT_BENCH:-}" ]; then
	for b in ${KT_BENCH//,/ }; do
		[ -f "$here/../tests/bench/$b.sh" ] || die "no benchmark tests/bench/$b.sh"
	done
	export KT_APPEND="${KT_APPEND:-} kt298.bench=$KT_BENCH"
fi
[ ${#machines[@]} -gt 0 ] || machines=(x86_64 x86_64-release arm arm-icount)
build_host_tools
run=$RUN
mkdir -p "$run"
runs=()
for m in "${machines[@]}"; do
	base=$m icount=
	case $m in *-icount) base=${m%-icount} icount=${KT_ICOUNT:-shift=0} ;; esac
	case $base in
	*-release) arch=${base%-release} KT_FLAVOUR=release ;;
	*) arch=$base KT_FLAVOUR=debug ;;
	esac
	export KT_FLAVOUR
	kt_prepare "$arch" "$run/$m.cpio.gz"
	kb=$KB
	log "benchmarking on $m (log: $run/$m-bench.log)"
	t0=$SECONDS
	KT_ICOUNT=$icount "$here/qemu.sh" "$arch" "$kb" "$run/$m.cpio.gz" bench "$run/$m-bench.log"
	log "the $m bench boot took $((SECONDS - t0)) s"
	grep -q '^@@kt298 exit' "$run/$m-bench.log" || die "the $m guest did not finish; see $run/$m-bench.log"
	runs+=("$m=$run/$m-bench.log")
done
"$REPORT" bench "${runs[@]}"
