#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh MACHINE [--shell]: build what is missing and boot MACHINE (arm or
# x86_64) with the suite installed.
#   without CMD   run tests/demo.sh, which shows what the suite does, then power off
#   CMD="..."     run CMD in the guest (in /host, a copy of DIR if given), print its
#                 output and exit with its status
#   --shell       an interactive shell on the guest's console
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
m=${1:?usage: run.sh arm|x86_64 [--shell]}
shell=${2:-}
case $m in x86_64 | arm) ;; *) die "MACHINE must be arm or x86_64, not '$m'" ;; esac

build_host_tools
run=$RUN
kt_prepare "$m" "$run/$m.cpio.gz"
kb=$KB

if [ "$shell" = --shell ]; then
	exec "$here/qemu.sh" "$m" "$kb" "$run/$m.cpio.gz" shell "$run/$m-shell.log"
fi

if [ -z "${CMD:-}" ]; then
	log "booting $m to show the suite (log: $run/$m-demo.log)"
	KT_VERBOSE=0 "$here/qemu.sh" "$m" "$kb" "$run/$m.cpio.gz" demo "$run/$m-demo.log"
	# Show the demo's own output, not the framing.
	sed -n '/^@@kt298 begin demo/,/^@@kt298 end/p' "$run/$m-demo.log" | sed '1d;$d' | tr -d '\r'
	grep -q '^@@kt298 exit' "$run/$m-demo.log" || die "the guest did not finish; see $run/$m-demo.log"
	exit 0
fi

# A command of the user's: /host/cmd.sh, with DIR's contents beside it.
extra=$(mktemp -d "$CACHE/host.XXXXXX")
trap 'rm -rf "$extra" "$extra.cpio"' EXIT
# Interrupted or timed out: exit, so that the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$extra/host"
if [ -n "${DIR:-}" ]; then
	[ -d "$DIR" ] || die "DIR=$DIR is not a directory"
	cp -a "$DIR"/. "$extra/host/"
fi
printf '%s\n' "$CMD" >"$extra/host/cmd.sh"
# Compressed like the base image: the kernel unpacks the concatenation in order.
(cd "$extra" && find . | cpio -o -H newc --owner 0:0 --quiet) | gzip -1 >"$extra.cpio"
"$here/qemu.sh" "$m" "$kb" "$run/$m.cpio.gz" cmd "$run/$m-cmd.log" "$extra.cpio"
# Not exec: the EXIT trap above removes the command's image.
"$REPORT" cmd "$run/$m-cmd.log" --kernel-log "$m=$run/$m-cmd.kernel.log"
