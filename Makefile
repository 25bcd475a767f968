# SPDX-License-Identifier: GPL-2.0
#
# pinlab: make run (the results matrix), make check (the test suite),
# make shell (a guest shell).  Each installs what it needs; see README.md.
#
#   make check TESTS="pin_matrix bad_input" REPEAT=10
#   make check KERNELS=stock        (skip building/booting the patched kernel)
#   make check KERNELS=stock612     (Debian 6.12 from bookworm-backports)
#   make check KERNELS=/path/to/linux  (your built kernel tree: README
#                                    "Testing your kernel"; PINLAB_OBSERVE=1
#                                    for observe mode, INSTALL_MOD_PATH for
#                                    its modules_install root)
#   make shell KERNEL=patched
#   make mutate                     (every verdict can fail: ci/mutations)
#   make check MUTATE=skip-fsync    (one mutation, by hand)
#   make bench KERNELS="stock base" (the benchmarks, their plots and goals)
#   make stress                     (the suite on the KASAN/lockdep/kmemleak
#                                    build of the patched kernel, long fuzz)
#   make compare A=results/<run> B=results/<run>   (what differs)
#   PINLAB_GUEST=payload make check (the guest runs from the payload disk of
#                                    ci/mkpayload.sh, a Debian root with
#                                    pinlab's files, instead of the host's
#                                    root over 9p; also run/bench/stress/
#                                    shell; default 9p)
#   make lava KERNELS=stock TESTS="oracle bad_input"
#                                   (each boot directly and as a LAVA job
#                                    run by lava-run, verdicts compared)
#
# Variables are passed through the environment to ci/pinlab.sh.
export TESTS REPEAT KERNELS KERNEL PINLAB_CACHE PINLAB_RESULTS MUTATE MUTATIONS FUZZ_SEED PINLAB_GUEST \
	PINLAB_OBSERVE INSTALL_MOD_PATH

.PHONY: all run check bench stress compare shell mutate lava driver userspace dkms clean

all: driver userspace

run:
	bash ci/pinlab.sh run

check:
	bash ci/pinlab.sh check

shell:
	bash ci/pinlab.sh shell

bench:
	bash ci/pinlab.sh bench

stress:
	bash ci/pinlab.sh stress

lava:
	bash ci/pinlab.sh lava

# The cells, goal lines and figures that differ between two result
# directories (results/<run> or a run's name under results/).
compare:
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make compare A=<run> B=<run>" >&2; exit 2; }
	python3 ci/report.py compare "$(A)" "$(B)"

mutate:
	bash ci/mutate.sh

# Host builds against the running kernel's headers (a real 6.1 host) or
# KDIR=...; `make check` builds against the harness's kernels instead.
driver:
	$(MAKE) -C driver

userspace:
	$(MAKE) -C userspace

# Install mockdma through DKMS on a real Debian 6.1 host.
dkms:
	dkms add ./driver && dkms install mockdma/$$(sed -n 's/^PACKAGE_VERSION=//p' driver/dkms.conf | tr -d '"')

clean:
	$(MAKE) -C driver clean
	$(MAKE) -C userspace clean
