#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side checks as a KTAP document: formatting of the kernel Rust code
# (with the kernel's .rustfmt.toml), and the host tools' fmt and clippy.
# (The modules themselves are always built with CLIPPY=1 and -Dwarnings.)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
repo=$(cd "$here/.." && pwd)
. "$repo/tests/lib/ktap.sh"
ksrc=${KSRC:-$CACHE/src/linux}

mapfile -t rs < <(cd "$repo" && git ls-files -co --exclude-standard -- '*.rs' ':!tools/*')
t_check "kernel Rust code is rustfmt-clean (kernel .rustfmt.toml)" \
	rustfmt --check --edition 2021 --config-path "$ksrc/.rustfmt.toml" "${rs[@]/#/$repo/}"
t_check "host tools: cargo fmt --check" sh -c "cd '$repo/tools' && cargo fmt --check"
t_check "host tools: cargo clippy -D warnings" sh -c "cd '$repo/tools' && cargo clippy --quiet --release --locked --all-targets -- -D warnings"
t_check "shell scripts parse" sh -c "for f in '$repo'/scripts/*.sh '$repo'/scripts/vng-guest/* '$repo'/tests/init '$repo'/tests/guest/*.sh '$repo'/.ci/run; do [ -f \"\$f\" ] || continue; bash -n \"\$f\" || exit 1; done"
t_check "documentation: docutils strict, device-tree binding schema" "$repo/scripts/check-docs.sh"
t_done
