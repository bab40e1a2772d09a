#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# clean.sh: remove this checkout's build products from the cache (grafted
# tree, kernel and module builds, guest runs). The downloaded kernel source
# and packages stay; 'rm -rf ~/.cache/kt298' removes everything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
tree=$(basename "$("$here/graft.sh")")
rm -rf "$CACHE/tree/$tree" "$CACHE"/build/*-"$tree" "$CACHE/mod" "$RUN" "$KT_CARGO_TARGET"
log "removed build products for tree $tree"
