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
