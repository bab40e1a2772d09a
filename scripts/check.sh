#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh [MACHINE...]: build what is missing and run every test, on the host
# (tool tests, formatting and lints) and on each emulated machine (KUnit and
# the guest scripts, under QEMU). Prints one line per test and a final
# 'N passed, N failed, N skipped'; exits non-zero on any failure.
#
# A build that fails is reported as a failed test of its machine, and the
# other machine still runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
machines=("$@")
[ ${#machines[@]} -gt 0 ] || machines=(x86_64 arm)

run=$RUN
mkdir -p "$run"
build_host_tools

# Host checks, as one KTAP document.
host_log=$run/host.log
{
	echo "@@kt298 begin host:lint"
	bash "$here/host-checks.sh"
	echo "@@kt298 end rc=$?"
	echo "@@kt298 begin cargo:tools"
	(cd "$repo/tools" && cargo test --release --locked 2>&1)
	echo "@@kt298 end rc=$?"
	echo "@@kt298 exit rc=0"
} >"$host_log" 2>&1
runs=("host=$host_log")

for m in "${machines[@]}"; do
	log=$run/$m-check.log
	start=$(date +%s)
	if ! { kb=$("$here/build-kernel.sh" "$m") && mo=$("$here/build-modules.sh" "$m") &&
		"$here/build-guest-tools.sh" "$m" &&
		"$here/mkinitramfs.sh" "$m" "$kb" "$mo" "$run/$m.cpio.gz"; } 2>"$run/$m-build.log"; then
		tail -n 30 "$run/$m-build.log" >&2
		{ echo "@@kt298 host: building for $m failed (see $run/$m-build.log):"; tail -n 30 "$run/$m-build.log"; } >"$log"
	else
		log "booting $m (log: $log)"
		"$here/qemu.sh" "$m" "$kb" "$run/$m.cpio.gz" check "$log"
		log "$m done in $(($(date +%s) - start)) s"
	fi
	runs+=("$m=$log")
done

# The x86_64 kernel under virtme-ng too, with KT_VNG=1 (off by default: vng
# boots the host's whole user space under TCG, which takes minutes and has
# hung here once).
if [ "${KT_VNG:-0}" = 1 ] && printf '%s\n' "${machines[@]}" | grep -qx x86_64; then
	log "running tests/guest/vng.sh under vng (log: $run/vng.log)"
	rc=0
	"$here/vng.sh" sh "$repo/tests/guest/vng.sh" >"$run/vng.raw" 2>&1 || rc=$?
	{
		echo "@@kt298 begin guest:vng"
		grep -v '@@kt298 vng-rc' "$run/vng.raw"
		echo "@@kt298 end rc=$rc"
		echo "@@kt298 exit rc=0"
	} >"$run/vng.log"
	runs+=("vng=$run/vng.log")
fi

"$REPORT" check --repo "$repo" "${runs[@]}"
