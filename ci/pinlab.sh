#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pinlab.sh check|run|shell: the entry point behind `make check`, `make run`
# and `make shell`.  Installs what it needs, fetches the kernel, builds the
# driver and the tests, boots the VM and reports.
#
#   check  every test on every kernel, plus the host checks (driver build
#          warnings, checkpatch, sparse); KTAP + "N passed, N failed,
#          N skipped"; exit 1 on any failure.
#   run    the main job: the programs that feed the results matrix, printed
#          and written as Markdown to results/<run>/matrix.md.
#   shell  an interactive shell in the guest (ext4, xfs, mockdma ready).
#
# Kernels: "stock" is Debian's newest 6.1 (ci/fetch-kernel.sh), "patched" is
# linux-source-6.1 + patches/series built with ci/kernel/pinlab-guest.config
# (ci/build-kernel.sh).  check and run boot each of $KERNELS in turn; shell
# boots $KERNEL.
#
# Environment: KERNELS (default "stock patched"), KERNEL (shell only, default
# stock), TESTS (subset, by program name), REPEAT (run each N times),
# PINLAB_CACHE (downloads and builds, default ~/.cache/pinlab),
# PINLAB_RESULTS (default ./results).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mode=${1:-check}
if [ "$mode" = shell ]; then
	kernels=${KERNEL:-stock}
	[ "$(echo $kernels | wc -w)" = 1 ] || die "KERNEL names one kernel: stock or patched"
else
	kernels=${KERNELS:-stock patched}
fi
for k in $kernels; do
	case $k in
	stock|patched) ;;
	*) die "unknown kernel '$k' (KERNELS/KERNEL: stock, patched)" ;;
	esac
done
has_kernel() { case " $kernels " in *" $1 "*) return 0 ;; esac; return 1; }

step "checking host packages"
need_pkgs build-essential gcc-12 make libc6-dev linux-libc-dev python3 \
	perl sparse qemu-system-x86 busybox-static cpio kmod e2fsprogs \
	xfsprogs xz-utils
# RDMA (Soft-RoCE) and io_uring tests, fio workloads
need_pkgs libibverbs-dev ibverbs-providers rdma-core ibverbs-utils \
	liburing-dev fio iproute2

eval "$("$PINLAB_ROOT/ci/fetch-kernel.sh")"
export KVER KIMAGE KMODROOT KSRC
KSFT=$KSRC/tools/testing/selftests

stamp=$(date +%Y%m%d-%H%M%S)
out=$PINLAB_RESULTS/$stamp-$mode
mkdir -p "$out"
ln -sfn "$stamp-$mode" "$PINLAB_RESULTS/latest"
host=$out/host.txt
: > "$host"

# host_check NAME CMD...: run CMD, record ok/not ok with its output as
# diagnostics when it fails or prints a warning.
host_check() {
	local name=$1 log
	shift
	log=$(mktemp)
	if "$@" > "$log" 2>&1 && ! grep -qiE 'warning:|error:' "$log"; then
		echo "ok $name" >> "$host"
	else
		sed 's/^/# /' "$log" | tail -n 40 >> "$host"
		echo "not ok $name" >> "$host"
		step "FAILED: $name (see $host)"
	fi
	rm -f "$log"
}

step "building mockdma.ko against $KVER headers"
make -s -C "$PINLAB_ROOT/driver" KDIR="$KDIR" clean >/dev/null 2>&1 || true
host_check "driver builds with no warnings (W=1)" \
	make -C "$PINLAB_ROOT/driver" KDIR="$KDIR" W=1
export MOCKDMA_KO=$PINLAB_ROOT/driver/mockdma.ko
step "building userspace tests"
host_check "userspace builds (-Wall -Wextra -Werror)" \
	make -C "$PINLAB_ROOT/userspace" KSFT="$KSFT"
export TEST_DIR=$PINLAB_ROOT/userspace/build

# The patched kernel: built (or found in the cache) after the stock one, and
# mockdma.ko built against it in a copy of driver/ under its run directory.
# A kernel that does not build is a failed host check, and is not booted.
if has_kernel patched; then
	if pvars=$("$PINLAB_ROOT/ci/build-kernel.sh"); then
		echo "ok patched kernel builds (ci/build-kernel.sh)" >> "$host"
	else
		echo "not ok patched kernel builds (ci/build-kernel.sh)" >> "$host"
		[ "$mode" = shell ] && die "the patched kernel did not build"
		kernels=${kernels//patched/}
	fi
fi
if has_kernel patched; then
	eval "$(sed 's/^/PATCHED_/' <<< "$pvars")"
	pdrv=$out/patched/mockdma
	mkdir -p "$out/patched"
	cp -a "$PINLAB_ROOT/driver" "$pdrv"
	make -s -C "$pdrv" KDIR="$PATCHED_KDIR" clean >/dev/null 2>&1 || true
	step "building mockdma.ko against $PATCHED_KVER"
	host_check "driver builds against the patched kernel with no warnings (W=1)" \
		make -C "$pdrv" KDIR="$PATCHED_KDIR" W=1
fi

if [ "$mode" = check ]; then
	step "checkpatch --strict and sparse on driver/"
	host_check "driver is checkpatch --strict clean" \
		make -C "$PINLAB_ROOT/driver" KSRC="$KSRC" check
	host_check "driver is sparse clean (C=2)" \
		make -C "$PINLAB_ROOT/driver" KDIR="$KDIR" C=2
fi

case $mode in
check) TESTS=${TESTS:-$(make -s -C "$PINLAB_ROOT/userspace" list)} ;;
run) TESTS=${TESTS:-$(make -s -C "$PINLAB_ROOT/userspace" list-matrix)} ;;
shell) TESTS= ;;
*) die "unknown mode $mode (check|run|shell)" ;;
esac
export TESTS

[ -e "$MOCKDMA_KO" ] || die "driver/mockdma.ko did not build (see $host)"

# boot LABEL MODE: one VM on that kernel, results in $out/LABEL.
boot() {
	if [ "$1" = patched ]; then
		KVER=$PATCHED_KVER KIMAGE=$PATCHED_KIMAGE KMODROOT=$PATCHED_KMODROOT \
			MOCKDMA_KO=$pdrv/mockdma.ko KLABEL=patched \
			"$PINLAB_ROOT/ci/vm.sh" "$out/patched" "$2"
	else
		KLABEL=stock "$PINLAB_ROOT/ci/vm.sh" "$out/stock" "$2"
	fi
}

if [ "$mode" = shell ]; then
	boot "$kernels" shell
	exit 0
fi

runs=()
for k in $kernels; do
	boot "$k" check || true
	runs+=("$out/$k")
done

step "report"
status=0
if [ "$mode" = check ]; then
	python3 "$PINLAB_ROOT/ci/report.py" check --host "$host" "${runs[@]}" \
		> "$out/results.ktap" || status=$?
	grep -E '^(not ok|#)' "$out/results.ktap" | head -n 60 || true
	step "KTAP: $out/results.ktap"
	tail -n 1 "$out/results.ktap"
else
	python3 "$PINLAB_ROOT/ci/report.py" matrix "${runs[@]}" > "$out/matrix.md"
	python3 "$PINLAB_ROOT/ci/report.py" check --host "$host" "${runs[@]}" \
		> "$out/results.ktap" || status=$?
	cat "$out/matrix.md"
	step "matrix: $out/matrix.md; KTAP: $out/results.ktap"
	tail -n 1 "$out/results.ktap"
fi
exit $status
