# SPDX-License-Identifier: GPL-2.0
#
# kt298: the suite's front door. See README.md.
#
#   make run       boot the emulated Orange Pi PC with the suite and show it
#   make check     build what is missing and run every test on both machines
#
# This file is read by make when you run it here. The kernel's build system
# reads ./Kbuild instead when it builds our modules (M=).

MACHINE ?= arm
ARCH ?= x86_64
S := scripts

.PHONY: all setup kernel kernels modules check run shell bench vng fmt fmtcheck clippy tools clean help

all: check

help:
	@sed -n '3,8p' Makefile

setup:
	@bash $(S)/setup.sh

kernel: setup
	@bash $(S)/build-kernel.sh $(ARCH) >/dev/null

kernels: setup
	@bash $(S)/build-kernel.sh x86_64 >/dev/null
	@bash $(S)/build-kernel.sh arm >/dev/null

modules: setup
	@bash $(S)/build-modules.sh $(ARCH) $(if $(CLIPPY),CLIPPY=1) >/dev/null

clippy: setup
	@bash $(S)/build-modules.sh $(ARCH) CLIPPY=1 >/dev/null

check: setup
	@bash $(S)/check.sh

run: setup
	@bash $(S)/run.sh $(MACHINE)

shell: setup
	@bash $(S)/run.sh $(MACHINE) --shell

bench: setup
	@bash $(S)/bench.sh

fmt:
	@bash $(S)/fmt.sh

fmtcheck:
	@bash $(S)/fmt.sh --check

clean:
	@bash $(S)/clean.sh

vng: setup
	@bash $(S)/vng.sh $(CMD)
