#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# series-check.sh [--ktap|--checkpatch]: check the patch series that 'make patches' writes,
# as a maintainer would receive it. Prints the report (a line per check and a final count);
# exits non-zero on any failure. With --ktap, prints KTAP on stdout instead (for 'make check',
# which frames it as one of its host sections); --checkpatch is --ktap without the builds.
#
# - scripts/checkpatch.pl --strict (from the kernel source) on every patch: no errors, and
#   every warning or check is one that rust/patches/checkpatch-notes explains;
# - every prefix builds: the patches are applied one by one to a pristine copy of the kernel
#   source (a link farm under the cache), and after each one the x86_64 kernel (release
#   configuration) is built up to 'modules_prepare', which compiles the bindings, the C
#   helpers and the kernel crate with clippy and -Dwarnings; after the last one, the whole
#   kernel (bzImage and modules).
#
# The builds share one build directory, so each step is incremental: 5-25 seconds a step,
# plus the whole kernel at the end (8 minutes cold on 2 cores, under a minute after that).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
ksrc=${KSRC:-$CACHE/src/linux}
ksrc=$(cd "$ksrc" && pwd)
work=$CACHE/series
series=$work/patches
logs=$RUN/series
mkdir -p "$work" "$logs"
only_checkpatch=0
ktap=0
case ${1:-} in
--checkpatch) only_checkpatch=1 ktap=1 ;;
--ktap) ktap=1 ;;
'') ;;
*) die "usage: series-check.sh [--ktap|--checkpatch]" ;;
esac

bash "$here/patches.sh" "$series" >/dev/null
if [ $ktap = 0 ]; then
	build_host_tools
	log "checking the series in $series (log: $logs/series.log)"
	exec 3>&1 >"$logs/series.ktap"
fi
. "$here/../tests/lib/ktap.sh"
mapfile -t ps < <(ls "$series"/[0-9]*.patch | grep -v '/0000-')

# checkpatch.pl, run from the kernel source for its tables (spelling, const structs).
notes=$repo/rust/patches/checkpatch-notes
for p in "$series"/*.patch; do
	name=$(basename "$p")
	out=$(cd "$ksrc" && perl scripts/checkpatch.pl --strict --terse --show-types "$p" 2>&1) || true
	errors=$(grep ': ERROR:' <<<"$out" || true)
	unexplained=$(grep -E ': (WARNING|CHECK):' <<<"$out" | while IFS= read -r line; do
		msg=${line#*: WARNING:}
		msg=${msg#*: CHECK:}
		msg=${msg#*:} # the type, with --show-types
		grep -qF -- "\"${msg# }\"" "$notes" || echo "$line"
	done || true)
	if [ -n "$errors$unexplained" ]; then
		t_fail "checkpatch --strict: $name" "$(printf '%s\n%s' "$errors" "$unexplained" | sed '/^$/d')"
	else
		t_ok "checkpatch --strict: $name"
	fi
done

if [ $only_checkpatch = 1 ]; then
	t_done
	exit 0
fi

# Every prefix builds.
tree=$work/tree
rm -rf "$tree"
cp -al "$ksrc" "$tree"
n=${#ps[@]}
k=0
for p in "${ps[@]}"; do
	k=$((k + 1))
	name=$(basename "$p")
	for f in $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p"); do
		[ -f "$tree/$f" ] && cp --remove-destination "$tree/$f" "$tree/$f.kt298" && mv "$tree/$f.kt298" "$tree/$f"
	done
	if ! patch -s -d "$tree" -p1 --forward --batch --no-backup-if-mismatch <"$p" >"$logs/$k.log" 2>&1; then
		t_fail "prefix $k/$n applies: $name" "$(tail -n 20 "$logs/$k.log")"
		break
	fi
	mode=--prepare
	what="kernel crate builds"
	if [ $k = $n ]; then
		mode=
		what="whole kernel builds"
	fi
	start=$(date +%s)
	log "prefix $k/$n: $name"
	if KT_SERIES_TREE=$tree KT_FLAVOUR=release bash "$here/build-kernel.sh" x86_64 $mode >/dev/null 2>"$logs/$k.log"; then
		t_ok "prefix $k/$n: $what ($(($(date +%s) - start)) s): $name"
	else
		t_fail "prefix $k/$n: $what: $name" "$(grep -E 'error|Error' "$logs/$k.log" | head -n 30)"
	fi
done
t_done
[ $ktap = 0 ] || exit 0
exec >&3 3>&-
{
	echo "@@kt298 begin host:series"
	cat "$logs/series.ktap"
	echo "@@kt298 end rc=0"
	echo "@@kt298 exit rc=0"
} >"$logs/series.log"
"$REPORT" check --repo "$repo" "host=$logs/series.log"
