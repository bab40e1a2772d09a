#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fmt.sh [--check]: rustfmt the kernel-side Rust code with the kernel's
# .rustfmt.toml, and cargo fmt the host tools.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
ksrc=${KSRC:-$CACHE/src/linux}
check=()
[ "${1:-}" = --check ] && check=(--check)
mapfile -t rs < <(cd "$repo" && git ls-files -co --exclude-standard -- '*.rs' ':!tools/*')
rc=0
rustfmt "${check[@]}" --edition 2021 --config-path "$ksrc/.rustfmt.toml" "${rs[@]/#/$repo/}" || rc=1
(cd "$repo/tools" && cargo fmt "${check[@]}") || rc=1
exit $rc
