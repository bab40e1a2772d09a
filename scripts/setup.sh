#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the suite needs on a Debian 12 (bookworm) x86_64 machine.
# Idempotent: a second run checks and returns in seconds.
#
# The system's apt sources get one addition, bookworm-backports (for QEMU 10),
# and bookworm-security (clang 22) if a trimmed image lacks it;
# packages from newer releases (the kernel source, armhf busybox) are fetched
# with a private sources list and state directory under the cache, so the
# system is never offered an upgrade to another release.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

need_root() {
	if [ "$(id -u)" != 0 ]; then
		die "setup needs root to install packages (run as root, or install them yourself: see README)"
	fi
}

APT_PKGS=(clang-22 lld-22 llvm-22 libclang-22-dev flex bison bc libelf-dev
	libssl-dev cpio kmod rsync xz-utils busybox-static gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
	python3-pip python3-venv python3-docutils python3-yaml)
BPO_PKGS=(qemu-system-x86 qemu-system-arm)

missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
qemu_ok=1
if ! command -v qemu-system-arm >/dev/null || ! command -v qemu-system-x86_64 >/dev/null; then
	qemu_ok=0
elif ! qemu-system-arm --version | grep -qE 'version (9|1[0-9])\.'; then
	qemu_ok=0
fi

if [ ${#missing[@]} -gt 0 ] || [ $qemu_ok = 0 ]; then
	need_root
	# add_suite SUITE URI: list SUITE (main) in the apt sources unless it is already there.
	add_suite() {
		local f=/etc/apt/sources.list.d/kt298-$1.sources
		grep -rqs "$1" /etc/apt/sources.list /etc/apt/sources.list.d/ && return
		log "adding $1 to apt sources ($f)"
		printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
			"$2" "$1" /usr/share/keyrings/debian-archive-keyring.gpg >"$f"
	}
	add_suite bookworm-backports http://deb.debian.org/debian
	# clang 22 (the LLVM of our rustc) comes from bookworm-security, which Debian images list.
	add_suite bookworm-security http://deb.debian.org/debian-security
	log "apt-get update"
	apt-get update -qq
	export DEBIAN_FRONTEND=noninteractive
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	if [ $qemu_ok = 0 ]; then
		log "installing QEMU from bookworm-backports"
		apt-get install -y -qq --no-install-recommends -t bookworm-backports "${BPO_PKGS[@]}" >/dev/null
	fi
fi

# Rust: the kernel's bindgen, rust-src, clippy and rustfmt, and targets for static guest tools.
export PATH="$HOME/.cargo/bin:$PATH"
if ! bindgen --version 2>/dev/null | grep -q "^bindgen $BINDGEN_VERSION\$"; then
	log "installing bindgen-cli $BINDGEN_VERSION"
	cargo install --quiet bindgen-cli --version "$BINDGEN_VERSION" --locked
fi
installed=$(rustup component list --installed 2>/dev/null)
# clippy and rustfmt come with rustup's default profile, not with a minimal one.
for c in rust-src clippy rustfmt; do
	grep -q "^$c" <<<"$installed" || rustup component add "$c"
done
targets=$(rustup target list --installed)
for t in x86_64-unknown-linux-musl armv7-unknown-linux-gnueabihf; do
	grep -qx "$t" <<<"$targets" || rustup target add "$t"
done

# vng (virtme-ng) for running the x86_64 kernel with the host's root file system.
if ! command -v vng >/dev/null; then
	log "installing virtme-ng"
	pip install --quiet --disable-pip-version-check virtme-ng || warn "virtme-ng install failed; 'make vng' will not work"
fi

# Private apt for packages from other releases: kernel source, armhf busybox.
papt_setup() {
	local d="$CACHE/apt"
	mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/etc"
	cat >"$d/etc/sources.list" <<SRC
deb [arch=amd64,armhf signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
SRC
	PAPT=(-o Dir::Etc::SourceList="$d/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$d/lists" -o Dir::Cache::Archives="$d/archives"
		-o APT::Architectures::=amd64 -o APT::Architectures::=armhf
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	if [ ! -e "$d/lists/.updated" ]; then
		log "private apt update (trixie-backports, armhf)"
		apt-get "${PAPT[@]}" update -qq
		touch "$d/lists/.updated"
	fi
}

mkdir -p "$CACHE/dl"
if [ ! -s "$CACHE/dl/busybox-armhf" ]; then
	papt_setup
	(cd "$CACHE/dl" && apt-get "${PAPT[@]}" download busybox-static:armhf)
	deb=$(ls "$CACHE"/dl/busybox-static_*_armhf.deb | tail -n1)
	tmp=$(mktemp -d)
	dpkg-deb -x "$deb" "$tmp"
	cp "$tmp/bin/busybox" "$CACHE/dl/busybox-armhf"
	rm -rf "$tmp" "$deb"
fi

# Kernel source: unless the user names a tree with KSRC=.
if [ -z "${KSRC:-}" ] && [ ! -e "$CACHE/src/.unpacked" ]; then
	papt_setup
	log "fetching $KSRC_PKG"
	(cd "$CACHE/dl" && rm -f "$KSRC_PKG"_*.deb && apt-get "${PAPT[@]}" download "$KSRC_PKG")
	deb=$(ls "$CACHE/dl/$KSRC_PKG"_*.deb | tail -n1)
	log "unpacking $(basename "$deb")"
	rm -rf "$CACHE/src" && mkdir -p "$CACHE/src"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$CACHE/src" --wildcards '*/linux-source-*.tar.xz'
	tarball=$(ls "$CACHE"/src/usr/src/linux-source-*.tar.xz)
	tar -xf "$tarball" -C "$CACHE/src"
	rm -rf "$CACHE/src/usr"
	mv "$CACHE/src/linux-source-"* "$CACHE/src/linux"
	basename "$deb" >"$CACHE/src/.debian-package"
	rm -f "$deb"
	touch "$CACHE/src/.unpacked"
fi
log "setup done"
