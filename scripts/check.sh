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

# Host checks, as one KTAP document. A failing check or cargo test is a section with a
# non-zero status, reported like any other failure; the exit line is written last, after
# the build of our modules against a kernel without KUnit (below), which is a host check too.
host_log=$run/host.log
{
	section host:lint bash "$here/host-checks.sh"
	section cargo:tools sh -c "cd '$repo/tools' && cargo test --release --locked 2>&1"
} >"$host_log" 2>&1
runs=("host=$host_log")
# Each guest's kernel log, captured whole beside its log (scripts/qemu.sh).
klogs=()

for m in "${machines[@]}"; do
	log=$run/$m-check.log
	start=$(date +%s)
	if ! kt_prepare "$m" "$run/$m.cpio.gz" 2>"$run/$m-build.log"; then
		tail -n 30 "$run/$m-build.log" >&2
		{ echo "@@kt298 host: building for $m failed (see $run/$m-build.log):"; tail -n 30 "$run/$m-build.log"; } >"$log"
	else
		log "booting $m (log: $log, kernel log: ${log%.log}.kernel.log)"
		"$here/qemu.sh" "$m" "$KB" "$run/$m.cpio.gz" check "$log"
		log "$m done in $(($(date +%s) - start)) s"
	fi
	runs+=("$m=$log")
	klogs+=(--kernel-log "$m=${log%.log}.kernel.log")
done

has_x86_64=0
printf '%s\n' "${machines[@]}" | grep -qx x86_64 && has_x86_64=1

# Our modules against an x86_64 kernel without CONFIG_KUNIT, with -Dwarnings: code that
# only tests use is dead there, and a warning. The kernel is the release flavour (no KUnit,
# no debugging options), configured and prepared only (the kernel crate is built, with
# clippy, not vmlinux), unless 'make bench' has built all of it; its build directory is the
# one 'make bench' uses, so this is a prefix of that build, not an extra one.
if [ $has_x86_64 = 1 ]; then
	log "building our modules against a kernel without CONFIG_KUNIT (log: $run/nokunit-build.log)"
	start=$(date +%s)
	{
		. "$repo/tests/lib/ktap.sh"
		if kb=$(KT_FLAVOUR=release "$here/build-kernel.sh" x86_64 --prepare 2>"$run/nokunit-build.log"); then
			if grep -q '^CONFIG_KUNIT=y' "$kb/.config"; then
				t_fail "x86_64 kernel without CONFIG_KUNIT: configured" "CONFIG_KUNIT=y in $kb/.config"
			else
				t_ok "x86_64 kernel without CONFIG_KUNIT: configured and prepared"
			fi
			# Without vmlinux there is no Module.symvers, and one from an earlier full build
			# is stale once the kernel crate is rebuilt: unresolved symbols are expected.
			warnmp=()
			[ "$kb/Module.symvers" -nt "$kb/rust/kernel.o" ] || warnmp=(KBUILD_MODPOST_WARN=1)
			if KT_FLAVOUR=release "$here/build-modules.sh" x86_64 "${warnmp[@]}" >/dev/null 2>>"$run/nokunit-build.log"; then
				t_ok "our modules build with -Dwarnings and clippy without CONFIG_KUNIT"
				# objtool's warnings (a call it does not know never returns, say) do not
				# fail the build, but each is a broken stack-validation of our code.
				if grep -q 'warning: objtool:' "$run/nokunit-build.log"; then
					t_fail "objtool has no warning for our modules" \
						"$(grep 'warning: objtool:' "$run/nokunit-build.log" | head -n 10)"
				else
					t_ok "objtool has no warning for our modules"
				fi
			else
				t_fail "our modules build with -Dwarnings and clippy without CONFIG_KUNIT" \
					"$(grep -v 'WARNING: modpost: .* undefined!\|Module.symvers is missing' "$run/nokunit-build.log" | tail -n 40)"
			fi
		else
			t_fail "x86_64 kernel without CONFIG_KUNIT: configured and prepared" "$(tail -n 40 "$run/nokunit-build.log")"
			t_fail "our modules build with -Dwarnings and clippy without CONFIG_KUNIT" "no kernel to build against"
		fi
		t_done
	} >"$run/nokunit.ktap"
	{ echo "@@kt298 begin host:nokunit"; cat "$run/nokunit.ktap"; echo "@@kt298 end rc=0"; } >>"$host_log"
	log "no-KUnit build done in $(($(date +%s) - start)) s"
fi
# The patch series ('make patches') as a maintainer gets it: checkpatch, and every prefix
# builds (x86_64 only: without it, checkpatch alone).
if [ $has_x86_64 = 1 ]; then
	log "checking the patch series: checkpatch, and every prefix builds"
	start=$(date +%s)
	section host:series bash "$here/series-check.sh" --ktap >>"$host_log" 2>"$run/series-build.log"
	log "series check done in $(($(date +%s) - start)) s"
else
	section host:series bash "$here/series-check.sh" --checkpatch >>"$host_log" 2>"$run/series-build.log"
fi
echo "@@kt298 exit rc=0" >>"$host_log"

# The x86_64 kernel under virtme-ng: tests/guest/vng.sh, with the host's root file system
# (KT_VNG=0 leaves it out), then 'exit 3' in the same command, which vng.sh must return.
# The command's output (stdout) is the guest:vng section; the kernel's console at every log
# level (vng's stderr with KT_VERBOSE=1, the command's stderr among it) is vng's kernel log,
# checked whole for splats. As /init does in the QEMU guests, the command notes in the
# kernel log where it is, so that a splat's place is known.
if [ "${KT_VNG:-1}" = 1 ] && [ $has_x86_64 = 1 ]; then
	log "running tests/guest/vng.sh under vng (log: $run/vng.log)"
	start=$(date +%s)
	rc=0
	mark='kmsg() { echo "<5>kt298-test: $*" >/dev/kmsg; }; export KT_KMSG=1; kmsg "step vng command"'
	KT_VERBOSE=1 "$here/vng.sh" "$mark; kmsg 'begin guest:vng'; sh '$repo/tests/guest/vng.sh'; r=\$?; kmsg \"end rc=\$r\"; kmsg \"exit rc=\$r\"; [ \$r = 0 ] && exit 3; exit \$r" >"$run/vng.out" 2>"$run/vng.err" || rc=$?
	tr -d '\r' <"$run/vng.err" >"$run/vng.kernel.log"
	{
		echo "@@kt298 begin guest:vng"
		cat "$run/vng.out"
		echo "@@kt298 end rc=$((rc == 3 ? 0 : rc))"
		echo "@@kt298 begin host:vng-status"
		. "$repo/tests/lib/ktap.sh"
		t_eq "make vng returns the command's exit status" 3 "$rc"
		t_done
		echo "@@kt298 end rc=0"
		# 125: vng.sh saw no end of the command (the guest hung, died or was killed).
		[ $rc = 125 ] || echo "@@kt298 exit rc=0"
	} >"$run/vng.log"
	runs+=("vng=$run/vng.log")
	klogs+=(--kernel-log "vng=$run/vng.kernel.log")
	log "vng done in $(($(date +%s) - start)) s"
fi

"$REPORT" check --repo "$repo" "${klogs[@]}" "${runs[@]}"
