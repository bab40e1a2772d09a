# SPDX-License-Identifier: GPL-2.0
# Shared settings for the suite's scripts. Sourced, not run.

CACHE=${KT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kt298}
BINDGEN_VERSION=0.72.1
KSRC_PKG=linux-source-7.2
LLVM_SUFFIX=-19
export LIBCLANG_PATH=/usr/lib/llvm${LLVM_SUFFIX}/lib
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[kt298] %s\n' "$*" >&2; }
warn() { printf '[kt298] warning: %s\n' "$*" >&2; }
die() { printf '[kt298] error: %s\n' "$*" >&2; exit 1; }

# The host tools (tools/), built once into the cache.
REPORT=$CACHE/cargo-target/release/kt298-report
build_host_tools() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" &&
		CARGO_TARGET_DIR=$CACHE/cargo-target cargo build --quiet --release --locked -p kt298-report) ||
		die "building the host tools failed"
}

# Per-checkout directory for initramfs images and guest logs, so that several
# checkouts (git worktrees) can run side by side.
KT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=$CACHE/run/$(printf '%s' "$KT_REPO" | sha256sum | cut -c1-12)
