# qemu-vpmu: thin driver around QEMU's own build.
#
#   make          build build/qemu-system-x86_64 (installs deps as root)
#   make demo     boot the demo guest under -cpu host,pmu=on
#   make check    build, then run every test (installs Debian's libvirt
#                 as root, for the libvirt test)
#   make check-libvirt  only the libvirt test: our emulator under a
#                 private libvirtd
#   make fuzz     fuzz the register model and the instruction decoder for
#                 FUZZ_TIME each (default 600s)
#   make bench    cost of vPMU operations, as ratios to a bare MSR exit
#                 (BENCH_ACCEL=kvm,vpmu-rdpmc=on to try that path)
#   make soak     the vPMU under load: an -smp 4 guest keeps every counter
#                 busy while QMP clients loop and it is live-migrated,
#                 for SOAK_TIME seconds (default 300) and SOAK_MIGRATIONS
#                 migrations (default 6); SOAK_SEED=N repeats a run
#
# The QEMU source is fetched into $(CACHE) (outside the tree), copied into
# build/qemu-src, patched with patches/qemu/ and overlaid with our files
# (symlinks), then built in build/qemu.  See README.md.

CACHE ?= $(if $(VPMU_CACHE),$(VPMU_CACHE),$(HOME)/.cache/qemu-vpmu)
B := build
SRC := $(B)/qemu-src
QB := $(B)/qemu-build
GB := $(B)/guest
PY := /usr/bin/python3
EMU := $(B)/qemu-system-x86_64
UNIT_TESTS := tests/unit/test-vpmu-model tests/unit/test-vpmu-exact \
	tests/unit/test-vpmu-lbr tests/unit/test-vpmu-lbr-hw \
	tests/unit/test-vpmu-amd \
	tests/unit/test-vpmu-insn tests/unit/test-vpmu-retire \
	tests/unit/test-vpmu-events \
	tests/unit/test-vpmu-perf tests/qtest/vpmu-test
JOBS ?= $(shell nproc)

QEMU_CONFIGURE := --target-list=x86_64-softmmu \
	--without-default-features --without-default-devices \
	--with-devices-x86_64=vpmu --enable-kvm --disable-tcg --disable-docs \
	--enable-fdt=system --disable-install-blobs --disable-tools \
	--enable-werror --firmwarepath=/usr/share/qemu:/usr/share/seabios \
	--python=$(PY)

.PHONY: all deps tree qemu guests demo check check-libvirt libvirt-deps fuzz \
	bench soak clean distclean
all: qemu guests

deps:
	@scripts/install-deps.sh

# The tree step is cheap and incremental; it runs on every make.
tree: deps
	@set -e; \
	if [ ! -f $(SRC)/.copied ]; then \
	    pristine=$$(scripts/fetch-qemu.sh $(CACHE)); \
	else \
	    pristine=$$(cat $(SRC)/.pristine); \
	fi; \
	scripts/prepare-tree.sh "$$pristine" $(SRC) .; \
	echo "$$pristine" > $(SRC)/.pristine; \
	echo "qemu-vpmu: QEMU $$(cat $(SRC)/VERSION) from $$pristine"

$(QB)/build.ninja: | tree
	@mkdir -p $(QB)
	cd $(QB) && ../../$(SRC)/configure $(QEMU_CONFIGURE)

qemu: tree $(QB)/build.ninja
	ninja -C $(QB) -j$(JOBS) qemu-system-x86_64 $(UNIT_TESTS)
	@# A hard link, not a symlink: QEMU looks for firmware next to its own
	@# path, and build/qemu-build/qemu-bundle would hide Debian's.
	@ln -f $(QB)/qemu-system-x86_64 $(EMU)

guests: deps
	@[ -f $(GB)/build.ninja ] || meson setup $(GB) . >/dev/null
	ninja -C $(GB)

demo: qemu guests
	@$(PY) tests/guest/run-guest.py --qemu $(EMU) \
	    $(GB)/tests/guest/demo.elf -- -cpu host,pmu=on
	@echo "qemu-vpmu: again, with exact counting (-accel kvm,vpmu-exact=on)"
	@$(PY) tests/guest/run-guest.py --qemu $(EMU) \
	    $(GB)/tests/guest/demo.elf -- -accel kvm,vpmu-exact=on \
	    -cpu host,pmu=on

check: qemu guests libvirt-deps
	@$(PY) tests/vpmu-check.py --qemu $(EMU) --qemu-build $(QB) \
	    --guest-build $(GB)

libvirt-deps:
	@scripts/install-libvirt-deps.sh

check-libvirt: qemu guests libvirt-deps
	@$(PY) tests/libvirt/vpmu-libvirt-test.py --qemu $(EMU) \
	    --guest $(GB)/tests/guest/idle.elf

BENCH_ACCEL ?= kvm
bench: qemu guests
	@$(PY) tests/bench/vpmu-bench.py --qemu $(EMU) --accel $(BENCH_ACCEL) \
	    --guest $(GB)/tests/guest/bench.elf

SOAK_TIME ?= 300
SOAK_MIGRATIONS ?= 6
SOAK_SEED ?=
soak: qemu guests
	@$(PY) tests/soak/vpmu-soak.py --qemu $(EMU) --guest-build $(GB) \
	    --seconds $(SOAK_TIME) --migrations $(SOAK_MIGRATIONS) \
	    $(if $(SOAK_SEED),--seed $(SOAK_SEED))

FUZZ_TIME ?= 600s
fuzz: deps
	tests/fuzz/run.sh $(FUZZ_TIME)

clean:
	rm -rf $(QB) $(GB) $(EMU)

distclean:
	rm -rf $(B)
