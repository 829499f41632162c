# SPDX-License-Identifier: GPL-2.0
#
# mapfs: safe Rust iomap wrappers and a block filesystem on them.
# `make help` lists the targets. Kbuild reads ./Kbuild, not this file.

LLVM ?= -19
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
# KDIR: a built Linux 7.3 tree (with Rust enabled). Default: the cached test
# kernel that `make kernel` builds.
KDIR ?=
ifeq ($(KDIR),)
KDIR_CMD = $$(tools/kernel path)
KERNEL_DEP = kernel
else
KDIR_CMD = $(KDIR)
KERNEL_DEP =
endif
export KDIR

CARGO_MANIFEST := tools/Cargo.toml
TOOLS_BIN := tools/target/release

SHELL := /bin/bash

.PHONY: all help deps kernel modules module tools install uninstall check check-extra \
	check-host demo selftest-harness clean distclean kernel-path bench
.PHONY: xfstests soak compile-fail crash fuzz-mount modules_install misuse

all: modules tools

help:
	@echo 'mapfs targets:'
	@echo '  make demo        build everything, boot the VM, mkfs + insmod + mount, show what works'
	@echo '  make check       the whole test suite (host cargo tests + one VM boot); ends "N passed, N failed"'
	@echo '                   (mapfs at 1 and 4 KiB blocks; MAPFS_CASES=all adds the cases of check-extra to the boot)'
	@echo '  make check-extra the cases make check leaves out, one VM boot: each check on its control (XFS or tmpfs), and'
	@echo '                   mapfs at 2 KiB blocks (and the cases a long test leaves there), then a crash round;'
	@echo '                   run it when a test changes; CI runs it after make check'
	@echo '  make             build mapfs.ko and the userspace tools (= modules tools)'
	@echo '  make deps        install every dependency (Debian 12, as root); idempotent'
	@echo '  make kernel      build the cached Linux 7.3 test kernel (KASAN, lockdep; ~15 min once)'
	@echo '  make modules     build mapfs.ko against $$KDIR (default: the cached test kernel)'
	@echo '  make tools       build mkfs.mapfs and fsck.mapfs (cargo, release)'
	@echo '  make modules_install  install mapfs.ko into $$(INSTALL_MOD_PATH)/lib/modules/<release>/updates and run depmod'
	@echo '                   (with KDIR=/lib/modules/$$(uname -r)/build: modprobe mapfs, mount -t mapfs; dkms.conf for DKMS)'
	@echo '  make check-host  only the host tests (cargo test, script tests, compile-fail if the module is built): seconds'
	@echo '  make compile-fail  the wrappers'"'"' compile-fail suite: each misuse must not compile (tools/tests/compile-fail)'
	@echo '  make bench       mapfs vs XFS, ext4, ext2 in one VM boot of the release kernel (no KASAN/lockdep; built ~15 min once)'
	@echo '                   (BENCH=quick: minutes; BENCH_KERNEL=test, BENCH_CLOCK=icount, BENCH_SIZE, BENCH_REPS, BENCH_WORKLOADS, BENCH_FS;'
	@echo '                   Documentation/benchmarks.rst)'
	@echo '  make crash       crash-consistency rounds: writers, a reset without sync, fsck, byte checks (CRASH_ROUNDS=$(CRASH_ROUNDS), CRASH_SEED)'
	@echo '  make fuzz-mount  crafted images (valid checksums) mounted, walked, written in one VM boot (FUZZ_IMAGES=$(FUZZ_IMAGES) per block size, FUZZ_SEED, FUZZ_BS, FUZZ_JOBS=2 at once)'
	@echo '  make soak        millions of mapfs-fsx operations, parallel, fsck between rounds (SOAK_OPS, SOAK_JOBS, SOAK_CASES, ...; hours),'
	@echo '                   then SOAK_CRASH_ROUNDS=$(SOAK_CRASH_ROUNDS) crash rounds (tools/crash)'
	@echo '  make selftest-harness  prove the VM harness fails a run on KASAN/lockdep/WARNING splats'
	@echo '  make misuse      the wrappers under run-time misuse (a leaked inode reference, a sleep under RCU, ...): a test'
	@echo '                   variant of mapfs.ko (--cfg=mapfs_misuse, samples/mapfs/misuse.rs), one boot; make check runs it'
	@echo '  make xfstests    run a built xfstests tree in the VM: XFSTESTS=dir [TESTS="generic/001 ..."]'
	@echo '  make install     install mkfs.mapfs and fsck.mapfs into $$(SBINDIR) (default /usr/local/sbin)'
	@echo '  make uninstall   remove them'
	@echo '  make kernel-path print the build directory of the cached kernel'
	@echo '  make clean       remove module and tool build outputs and out/'
	@echo '  make distclean   clean, and also drop the cached kernels (test and release) for the current key'
	@echo
	@echo 'Variables: KDIR=/path/to/built/linux (use your own kernel build),'
	@echo '  LLVM=$(LLVM), JOBS=N (kernel build), MAPFS_TESTS="name ..." (subset of in-guest tests),'
	@echo '  MAPFS_ACCEL=kvm|tcg (skip the KVM probe), MAPFS_CACHE=dir (kernel cache).'

deps:
	@tools/setup

kernel: deps
	@tools/kernel build

kernel-path:
	@tools/kernel path

# Warnings fail the build: rustc, clippy-level lints, objtool (e.g. a Rust
# panic path objtool does not know) and modpost all print "warning:".
modules module: $(KERNEL_DEP)
	@echo "[module] building mapfs.ko against $(KDIR_CMD)"
	@mkdir -p out
	@set -o pipefail; $(MAKE) -C "$(KDIR_CMD)" M="$(CURDIR)" LLVM=$(LLVM) modules 2>&1 | tee out/module-build.log
	@if grep -q "warning:" out/module-build.log; then \
		echo "[module] error: the build printed warnings (out/module-build.log)"; exit 1; fi

# Kbuild's own install for external modules: copies mapfs.ko to
# $(INSTALL_MOD_PATH)/lib/modules/<kernel release>/updates/ and runs depmod
# there, so `modprobe mapfs` and `mount -t mapfs` (module alias fs-mapfs)
# find it. INSTALL_MOD_PATH is empty (the running system) unless given.
modules_install: modules
	@echo "[module] installing mapfs.ko for $$(cat "$(KDIR_CMD)/include/config/kernel.release") under $(or $(INSTALL_MOD_PATH),/)"
	@$(MAKE) -C "$(KDIR_CMD)" M="$(CURDIR)" LLVM=$(LLVM) INSTALL_MOD_PATH="$(INSTALL_MOD_PATH)" modules_install

# rustc refuses dots in binary names: cargo builds mkfs-mapfs and fsck-mapfs,
# and hard links give them the names mkfs(8) and fsck(8) look for.
tools: deps
	@echo "[tools] cargo build --release"
	@cargo build --release -q --manifest-path $(CARGO_MANIFEST)
	@ln -f $(TOOLS_BIN)/mkfs-mapfs $(TOOLS_BIN)/mkfs.mapfs
	@ln -f $(TOOLS_BIN)/fsck-mapfs $(TOOLS_BIN)/fsck.mapfs

install: tools
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(TOOLS_BIN)/mkfs.mapfs $(DESTDIR)$(SBINDIR)/mkfs.mapfs
	install -m 0755 $(TOOLS_BIN)/fsck.mapfs $(DESTDIR)$(SBINDIR)/fsck.mapfs

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mkfs.mapfs $(DESTDIR)$(SBINDIR)/fsck.mapfs

check-host: deps
	@MAPFS_HOST_ONLY=1 tools/check

check: modules tools
	@tools/check

# The cases of the in-guest tests that make check leaves out: the XFS/tmpfs
# controls and mapfs at 2 KiB blocks (tools/check --extra).
check-extra: modules tools
	@tools/check --extra

compile-fail: modules
	@tools/compile-fail

# Builds its own variant of the module (in out/misuse/src); the tools are the
# same. make check runs it.
misuse: $(KERNEL_DEP) tools
	@tools/misuse

# Crash rounds: mixed writers, a reset without sync, fsck and a byte check
# after each (tools/crash). make check runs one round, check-extra one more.
CRASH_ROUNDS ?= 10
crash: modules tools
	@tools/crash --rounds $(CRASH_ROUNDS) $(if $(CRASH_SEED),--seed $(CRASH_SEED))

# Crafted-image rounds in one boot (tools/fuzz-mount). make check runs a
# short run (the guest test fuzz-mount).
FUZZ_IMAGES ?= 1000
fuzz-mount: modules tools
	@tools/fuzz-mount --images $(FUZZ_IMAGES) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

demo: modules tools
	@tools/demo

# Knobs: see tools/bench/run. Not part of `make check`.
bench: modules tools
	@BENCH="$(BENCH)" BENCH_SIZE="$(BENCH_SIZE)" BENCH_REPS="$(BENCH_REPS)" \
		BENCH_WORKLOADS="$(BENCH_WORKLOADS)" BENCH_FS="$(BENCH_FS)" BENCH_KERNEL="$(BENCH_KERNEL)" \
		BENCH_CLOCK="$(BENCH_CLOCK)" tools/bench/run

# Knobs: see tools/soak. Not part of `make check`. After the fsx soak,
# SOAK_CRASH_ROUNDS crash rounds (tools/crash; 0: none).
SOAK_CRASH_ROUNDS ?= 10
soak: modules tools
	@SOAK_OPS="$(SOAK_OPS)" SOAK_JOBS="$(SOAK_JOBS)" SOAK_FILES="$(SOAK_FILES)" \
		SOAK_ROUND_OPS="$(SOAK_ROUND_OPS)" SOAK_REMOUNT_OPS="$(SOAK_REMOUNT_OPS)" \
		SOAK_DURATION="$(SOAK_DURATION)" SOAK_CASES="$(SOAK_CASES)" SOAK_SEED="$(SOAK_SEED)" \
		SOAK_MAX_SIZE="$(SOAK_MAX_SIZE)" SOAK_TIMEOUT="$(SOAK_TIMEOUT)" tools/soak
	@if [ "$(SOAK_CRASH_ROUNDS)" != 0 ]; then \
		tools/crash --rounds $(SOAK_CRASH_ROUNDS) --out out/soak/crash $(if $(CRASH_SEED),--seed $(CRASH_SEED)); fi

selftest-harness: $(KERNEL_DEP)
	@$(MAKE) -C "$(KDIR_CMD)" M="$(CURDIR)/tools/selftest" LLVM=$(LLVM) modules
	@tools/selftest/run

# XFSTESTS and TESTS (command-line variables) reach tools/xfstests through the
# environment. A missing or unbuilt XFSTESTS fails before anything is built.
xfstests:
	@tools/xfstests --check
	@$(MAKE) --no-print-directory modules tools
	@tools/xfstests

clean:
	@if [ -d "$(KDIR_CMD)" ]; then $(MAKE) -C "$(KDIR_CMD)" M="$(CURDIR)" LLVM=$(LLVM) clean; fi
	@rm -f rust/bindings/generated.rs
	@cargo clean -q --manifest-path $(CARGO_MANIFEST) 2>/dev/null || true
	@rm -rf out

distclean: clean
	@d=$$(tools/kernel path) && rm -rf "$$(dirname "$$d")" && echo "removed $$(dirname "$$d")"
	@d=$$(tools/kernel --release path) && if [ -d "$$d" ]; then rm -rf "$$(dirname "$$d")" && echo "removed $$(dirname "$$d")"; fi
