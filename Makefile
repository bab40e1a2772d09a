# SPDX-License-Identifier: GPL-2.0
#
# kt298: the suite's front door. See README.md.
#
#   make run       boot the emulated Orange Pi PC with the suite and show it
#   make check     build what is missing and run every test on both machines
#
# This file is read by make when you run it here. The kernel's build system
# reads ./Kbuild instead when it builds our modules (M=).

# MACHINE names the emulated machine, x86_64 or arm, for every target that takes one
# (kernel, modules, clippy, run, shell). ARCH= is accepted as another name for it (the old
# name for kernel and modules); MACHINE wins when both are given. An ARCH from the
# environment (a kernel developer's ARCH=x86, say) counts only if it is x86_64 or arm.
# Without either, run and shell boot the Orange Pi PC (arm), and kernel, modules and clippy
# build for x86_64.
ifeq ($(origin ARCH),command line)
MACHINE ?= $(ARCH)
else
MACHINE ?= $(filter x86_64 arm,$(ARCH))
endif
machine_or = $(if $(MACHINE),$(MACHINE),$(1))
S := scripts

.PHONY: all setup kernel kernels modules check run shell bench vng fmt fmtcheck clippy tools clean help \
	patches series-check

all: check

help:
	@sed -n '3,8p' Makefile

setup:
	@bash $(S)/setup.sh

kernel: setup
	@bash $(S)/build-kernel.sh $(call machine_or,x86_64) >/dev/null

kernels: setup
	@bash $(S)/build-kernel.sh x86_64 >/dev/null
	@bash $(S)/build-kernel.sh arm >/dev/null

modules: setup
	@bash $(S)/build-modules.sh $(call machine_or,x86_64) $(if $(CLIPPY),CLIPPY=1)

clippy: setup
	@bash $(S)/build-modules.sh $(call machine_or,x86_64) CLIPPY=1 >/dev/null

check: setup
	@bash $(S)/check.sh

run: setup
	@bash $(S)/run.sh $(call machine_or,arm)

shell: setup
	@bash $(S)/run.sh $(call machine_or,arm) --shell

# BENCH=kscrubd[,relayfs...] runs only those tests/bench/*.sh; MACHINE= (x86_64,
# x86_64-release or arm, each also with -icount: instruction counts) only that machine.
bench: setup
	@KT_BENCH='$(BENCH)' bash $(S)/bench.sh $(MACHINE)

# The kernel-crate additions as a patch series for your own 7.2 tree (OUT=dir, default under
# the cache), and the maintainer's check of it: checkpatch --strict, and every prefix builds.
patches: setup
	@bash $(S)/patches.sh $(OUT)

series-check: setup
	@bash $(S)/series-check.sh

fmt:
	@bash $(S)/fmt.sh

fmtcheck:
	@bash $(S)/fmt.sh --check

clean:
	@bash $(S)/clean.sh

# CMD reaches vng.sh through the environment (make exports command-line variables), so that
# a command with ';' or quotes is the guest's, not this recipe's shell's.
vng: setup
	@bash $(S)/vng.sh
