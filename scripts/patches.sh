#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# patches.sh [OUT]: write the suite's kernel-crate additions as a numbered patch series for a
# Linux 7.2 tree, cover letter first, in 'git format-patch' form (for 'git am'). Prints the
# directory (OUT, default $CACHE/patches).
#
# rust/patches/NNNN-*.patch is the series' source: each file is one patch, with its subject
# (the 'Subject:' line), its message (up to the '---' line), the new files it adds ('Adds:'
# lines naming files under rust/, which stay readable there), and its changes to upstream
# files. The graft (graft.sh) applies the same files, so the series is what the tests ran.
# Every file under rust/ must be added by exactly one patch. Authorship and the sign-off are
# those of the last commit that changed the patch's source file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
out=${1:-$CACHE/patches}
ksrc=${KSRC:-$CACHE/src/linux}
[ -f "$ksrc/Makefile" ] || die "no kernel source at $ksrc (run 'make setup', or pass KSRC=<tree>)"

mapfile -t patches < <(cd "$repo" && LC_ALL=C ls rust/patches/[0-9]*.patch)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every file under rust/ (but the series) is added by exactly one patch.
(cd "$repo" && find rust include -type f ! -path 'rust/patches/*' | LC_ALL=C sort) >"$work/files"
(cd "$repo" && sed -n 's/^Adds: //p' "${patches[@]}" | LC_ALL=C sort) >"$work/adds"
dups=$(uniq -d "$work/adds")
[ -z "$dups" ] || die "added by more than one patch: $dups"
missing=$(comm -23 "$work/files" "$work/adds")
[ -z "$missing" ] || die "in rust/ but added by no patch in rust/patches (add an 'Adds:' line): $missing"
gone=$(comm -13 "$work/files" "$work/adds")
[ -z "$gone" ] || die "named in an 'Adds:' line but not in rust/: $gone"

# A repository of just the upstream files the series changes, as the kernel has them.
mini=$work/tree
mkdir -p "$mini"
for f in $(cd "$repo" && sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "${patches[@]}" | sort -u); do
	if [ -f "$ksrc/$f" ]; then
		mkdir -p "$mini/$(dirname "$f")"
		cp "$ksrc/$f" "$mini/$f"
	fi
done
me_name=$(git -C "$repo" config user.name || echo kt298)
me_email=$(git -C "$repo" config user.email || echo kt298@localhost)
g() { git -C "$mini" -c user.name="$me_name" -c user.email="$me_email" -c commit.gpgsign=false "$@"; }
g init -q
g add -A
g commit -q -m "Linux $(make -s -C "$ksrc" kernelversion 2>/dev/null)"
base=$(g rev-parse HEAD)

for p in "${patches[@]}"; do
	subject=$(sed -n '1s/^Subject: //p' "$repo/$p")
	[ -n "$subject" ] || die "$p: the first line must be 'Subject: <subject>'"
	author=$(git -C "$repo" log -1 --format='%an <%ae>' -- "$p" 2>/dev/null || true)
	[ -n "$author" ] || author="$(git -C "$repo" config user.name) <$(git -C "$repo" config user.email)>"
	{
		echo "$subject"
		echo
		sed -n '2,/^---$/p' "$repo/$p" | sed '1{/^$/d}; $d'
		echo
		echo "Signed-off-by: $author"
	} >"$work/msg"
	patch -s -d "$mini" -p1 --forward --batch --no-backup-if-mismatch <"$repo/$p" ||
		die "$p does not apply to $ksrc"
	for f in $(sed -n 's/^Adds: //p' "$repo/$p"); do
		mkdir -p "$mini/$(dirname "$f")"
		cp "$repo/$f" "$mini/$f"
	done
	g add -A
	g -c user.name="${author% <*}" -c user.email="$(sed 's/.*<\(.*\)>/\1/' <<<"$author")" \
		commit -q --author="$author" -F "$work/msg"
done

rm -rf "$out"
mkdir -p "$out"
g format-patch -q --cover-letter --no-signature --zero-commit -o "$out" "$base..HEAD" >/dev/null
# The cover letter's subject and text.
cover=$(ls "$out"/0000-*.patch)
title=$(sed -n '1p' "$repo/rust/patches/cover-letter")
{
	sed -n '3,$p' "$repo/rust/patches/cover-letter"
	echo
	echo "Files, by patch (in MAINTAINERS style):"
	n=0
	for c in $(g rev-list --reverse "$base..HEAD"); do
		n=$((n + 1))
		echo
		printf '%d/%d %s\n' "$n" "${#patches[@]}" "$(g log -1 --format=%s "$c")"
		g diff-tree --no-commit-id --name-only -r "$c" | sed 's/^/F:\t/'
	done
	if [ -f "$repo/rust/patches/checkpatch-notes" ]; then
		echo
		cat "$repo/rust/patches/checkpatch-notes"
	fi
} >"$work/blurb"
python3 - "$cover" "$title" "$work/blurb" <<'EOF'
import sys
path, title, blurb = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip('\n')
text = open(path).read()
text = text.replace('*** SUBJECT HERE ***', title, 1).replace('*** BLURB HERE ***', blurb, 1)
open(path, 'w').write(text)
EOF
echo "$out"
