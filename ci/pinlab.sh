#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pinlab.sh check|run|shell|bench|stress|lava: the entry point behind
# `make check`, `make run`, `make shell`, `make bench`, `make stress` and
# `make lava`.  Installs what it needs, fetches the kernel, builds the
# driver and the tests, boots the VM and reports.
#
#   check  every test on every kernel, plus the host checks (driver build
#          warnings, checkpatch, sparse); KTAP + "N passed, N failed,
#          N skipped"; exit 1 on any failure.
#   run    the main job: the programs that feed the results matrix, printed
#          and written as Markdown to results/<run>/matrix.md, and
#          results/<run>/report.md (introduction, kernels, the hazard
#          table in one word per kernel, then every table).
#   shell  an interactive shell in the guest (ext4, xfs, mockdma ready).
#   bench  the benchmarks (userspace/Makefile BENCH_TESTS) in full
#          (PINLAB_BENCH=full in the guest), one boot per kernel; their
#          sanity checks as KTAP, then one table per benchmark, bench.json,
#          bench.md, the plots (gnuplot) and one line per goal
#          (ci/report.py bench).  The patched kernel boots with
#          ci/kernel/series.cmdline (dma_pin_lru=on), as in check, and
#          a second time without it (patched+off: SERIES_OFF_BENCH) for
#          what "off" costs against base.
#   stress the debug builds (ci/build-kernel.sh debug and base-debug: KASAN,
#          lockdep, kmemleak, KFENCE, DEBUG_VM_PGFLAGS) of the patched
#          kernel, booted with the series on, and of base (KERNELS picks
#          one: debug or base-debug), each once: every program of check but the second-boot
#          ones (MOVABLE_TESTS), ioctl_fuzz long (100,000 calls),
#          kill_unload five times over, a kmemleak scan at the end; KTAP,
#          then one line of counts (ci/report.py stress); exit 1 on any
#          failure, splat or leak.  Their results are patched+debug and
#          base+debug: a splat on both is not the series'.
#   lava   every boot of check (no host checks) twice: directly, then the
#          same boot as a LAVA job (device-type qemu) run by lava-run on
#          this machine with no server (ci/vm.sh lava, ci/lava/run-job.sh);
#          the job's test cases (one per KTAP result, reported in the guest)
#          compared with the direct run's KTAP case by case
#          (ci/lava/lava.py compare): same cases, same verdicts, else a
#          failure naming each difference; "N passed, N failed, N skipped";
#          exit 1 on any difference or failed case.
#
# Kernels: "stock" is Debian's newest 6.1 (ci/fetch-kernel.sh); "base" is
# linux-source-6.1 built with ci/kernel/pinlab-guest.config and no series,
# "patched" the same plus patches/series (ci/build-kernel.sh base|patched):
# base vs patched is the series alone, stock is what users run.  "stock612"
# is Debian's newest 6.12 from bookworm-backports (ci/fetch-kernel.sh
# stock612), what upstream did instead of the series.  check and run boot
# each of $KERNELS in turn; shell boots $KERNEL; bench boots the three 6.1
# kernels (its goals compare them) unless KERNELS says otherwise.
#
# A KERNELS (or KERNEL) entry that is a path (/..., ./..., ../...) is a
# built kernel tree of the user's (README "Testing your kernel"): its
# .config must hold ci/kernel/pinlab-suite.config (checked before it boots:
# a failed host check naming every missing option, and no boot), its
# modules installed under $INSTALL_MOD_PATH (default TREE/mod-install) by
# `make modules_install INSTALL_MOD_PATH=...`; mockdma is built against the
# tree.  Its expectations: the series' if the tree has it (System.map),
# else 6.1's up to 6.4 and 6.12's from 6.5 (userspace/lib/pinlab.c
# pl_kernel(), which the guest checks against the kernel itself).  A
# version outside 6.1..6.12, or PINLAB_OBSERVE=1, runs it in observe mode:
# every program's outcomes are reported as observations and only the
# kernel-independent invariants are asserted (ci/report.py).  Its results
# are user-<release>.
#
# Environment: KERNELS (default "stock stock612 base patched"; bench:
# "stock base patched"; lava: stock), KERNEL (shell only, default stock),
# TESTS (subset, by program name), REPEAT (run each N times), MUTATE (a
# deliberate defect of the fixture, ci/mutations; check only),
# PINLAB_CACHE (downloads and builds, default ~/.cache/pinlab),
# PINLAB_RESULTS (default ./results), PINLAB_GUEST (9p, the default: the
# guest runs in the host's root over 9p; payload: in the guest payload of
# ci/mkpayload.sh, for where 9p is absent; ci/vm.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mode=${1:-check}
if [ "$mode" = shell ]; then
	kernels=${KERNEL:-stock}
	[ "$(echo $kernels | wc -w)" = 1 ] || die "KERNEL names one kernel: stock, stock612, base, patched, debug or base-debug"
elif [ "$mode" = stress ]; then
	kernels=${KERNELS:-debug base-debug}
	for k in $kernels; do
		case $k in debug|base-debug) ;;
		*) die "make stress boots the debug kernels: KERNELS=debug, base-debug or both, not '$k'" ;;
		esac
	done
elif [ "$mode" = lava ]; then
	kernels=${KERNELS:-stock}
elif [ "$mode" = bench ]; then
	kernels=${KERNELS:-stock base patched}
else
	kernels=${KERNELS:-stock stock612 base patched}
fi
for k in $kernels; do
	case $k in
	stock|stock612|base|patched) ;;
	/*|./*|../*) [ -d "$k" ] || die "KERNELS: '$k' is not a directory (a built kernel tree)" ;;
	debug|base-debug) case $mode in
		stress|shell) ;;
		*) die "the debug kernels are make stress's (and make shell KERNEL=debug|base-debug)" ;;
		esac ;;
	*) die "unknown kernel '$k' (KERNELS/KERNEL: stock, stock612, base, patched, or a kernel tree's path /..., ./...; KERNEL=debug|base-debug for make shell)" ;;
	esac
done
# make lava's direct boots run from the same payload as its LAVA jobs (a
# job has no 9p share of this host), unless PINLAB_GUEST says otherwise.
[ "$mode" = lava ] && : "${PINLAB_GUEST:=payload}"
case ${PINLAB_GUEST:=9p} in
9p|payload) ;;
*) die "PINLAB_GUEST=$PINLAB_GUEST: 9p (default) or payload" ;;
esac
export PINLAB_GUEST
if [ -n "${MUTATE:-}" ]; then
	grep -qE "^${MUTATE}[[:space:]]" "$PINLAB_ROOT/ci/mutations" ||
		die "unknown mutation '$MUTATE' (see ci/mutations)"
fi
export MUTATE
has_kernel() { case " $kernels " in *" $1 "*) return 0 ;; esac; return 1; }

step "checking host packages"
need_pkgs build-essential gcc-12 make libc6-dev linux-libc-dev python3 \
	perl sparse qemu-system-x86 busybox-static cpio kmod e2fsprogs \
	xfsprogs xz-utils
# the report's plots (make bench, make run)
need_pkgs gnuplot-nox
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
# The run's identity for report.md: when, where, which checkout, which
# series and config (the kernels' own release and build id come from the
# guests).
{
	echo "date $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "host $(uname -n) $(uname -r) $(uname -m), $(nproc) CPUs"
	echo "qemu $(qemu-system-x86_64 --version | head -n 1)"
	echo "pinlab $(git -C "$PINLAB_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "series $(git -C "$PINLAB_ROOT" log -1 --format='%h %cs %s' -- patches 2>/dev/null || echo unknown)"
	echo "series_sha256 $(cat "$PINLAB_ROOT"/patches/series "$PINLAB_ROOT"/patches/[0-9]*.patch 2>/dev/null | sha256sum | cut -c1-16)"
	echo "config $(sha256sum "$PINLAB_ROOT/ci/kernel/pinlab-guest.config" | cut -c1-16) (ci/kernel/pinlab-guest.config), series.config $(sha256sum "$PINLAB_ROOT/ci/kernel/series.config" | cut -c1-16)"
	echo "kernels $kernels"
} > "$out/identity.txt"

# host_check [--diag] NAME CMD...: run CMD, record ok/not ok with its output as
# diagnostics when it fails or prints a warning.  --diag: CMD's stdout (its
# numbers) is a diagnostic of the result even when it passes.
host_check() {
	local diag=0 name log out rc=0
	[ "$1" = --diag ] && { diag=1; shift; }
	name=$1
	shift
	log=$(mktemp)
	out=$(mktemp)
	if [ $diag = 1 ]; then
		"$@" > "$out" 2> "$log" || rc=$?
	else
		"$@" > "$log" 2>&1 || rc=$?
	fi
	if [ $rc = 0 ] && ! grep -qiE 'warning:|error:' "$log" "$out"; then
		[ $diag = 0 ] || sed 's/^/# /' "$out" >> "$host"
		echo "ok $name" >> "$host"
	else
		cat "$out" >> "$log"
		sed 's/^/# /' "$log" | tail -n 40 >> "$host"
		echo "not ok $name" >> "$host"
		step "FAILED: $name (see $host)"
	fi
	rm -f "$log" "$out"
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
# The kernel's own mm selftests from the same source (mm_selftests runs
# them in the guest); cached by ci/build-mm-selftests.sh.
step "building the mm selftests of $(basename "$KSRC")"
MM_SELFTESTS=
if vars=$(KSRC=$KSRC "$PINLAB_ROOT/ci/build-mm-selftests.sh"); then
	echo "ok mm selftests build (ci/build-mm-selftests.sh)" >> "$host"
	eval "$vars"
else
	echo "not ok mm selftests build (ci/build-mm-selftests.sh)" >> "$host"
fi
export MM_SELFTESTS

# The other kernels (stock612 fetched, base and patched built, or found in
# the cache) after the stock one, and mockdma.ko built against each in a
# copy of driver/ under its run directory.  A kernel that cannot be had is
# a failed host check, and is not booted.
declare -A KV
# kernel_vars LABEL VARS: the "VAR=value" lines a kernel script printed,
# as KV[LABEL.VAR].
kernel_vars() {
	local var val
	while IFS='=' read -r var val; do
		KV[$1.$var]=$val
	done <<< "$2"
}
# driver_for LABEL KDIR CHECK [MAKE ARGS]: mockdma.ko built against KDIR in
# a copy of driver/ under the run directory ($out/LABEL/mockdma), W=1, as
# the host check CHECK.
driver_for() {
	local label=$1 kdir=$2 check=$3 drv=$out/$1/mockdma
	shift 3
	mkdir -p "$out/$label"
	cp -a "$PINLAB_ROOT/driver" "$drv"
	make -s -C "$drv" KDIR="$kdir" "$@" clean >/dev/null 2>&1 || true
	host_check "$check" make -C "$drv" KDIR="$kdir" "$@" W=1
}
for flavour in stock612 base patched debug base-debug; do
	has_kernel $flavour || continue
	if [ $flavour = stock612 ]; then
		how="ci/fetch-kernel.sh $flavour" what=fetches
	else
		how="ci/build-kernel.sh $flavour" what=builds
	fi
	if vars=$("$PINLAB_ROOT"/$how); then
		echo "ok $flavour kernel $what ($how)" >> "$host"
	else
		echo "not ok $flavour kernel $what ($how)" >> "$host"
		[ "$mode" = shell ] && die "the $flavour kernel: $how failed"
		kernels=$(echo " $kernels " | sed "s/ $flavour / /")
		continue
	fi
	kernel_vars "$flavour" "$vars"
	# The build's cache key (ci/build-kernel.sh): source, series, config.
	echo "kernel_$flavour build $(basename "$(dirname "${KV[$flavour.KDIR]}")")" >> "$out/identity.txt"
	step "building mockdma.ko against ${KV[$flavour.KVER]}"
	driver_for "$flavour" "${KV[$flavour.KDIR]}" \
		"driver builds against the $flavour kernel with no warnings (W=1)"
done

# config_missing TREE_CONFIG FRAGMENT: the lines of FRAGMENT that
# TREE_CONFIG lacks, one "CONFIG_X=v (have: ...)" each; "=y" is satisfied
# by "=m" (the guest loads modules) and "=m" by "=y".  Why not just
# merge_config.sh: this tree is built, and is booted as it is.
config_missing() {
	awk '
	function name_of(line) { return substr(line, 1, index(line, "=") - 1) }
	FILENAME == ARGV[1] { if (/^CONFIG_[A-Za-z0-9_]+=/) have[name_of($0)] = substr($0, index($0, "=") + 1)
		    next }
	/^CONFIG_[A-Za-z0-9_]+=/ {
		n = name_of($0); want = substr($0, index($0, "=") + 1); got = have[n]
		if (got == want || (want ~ /^[ym]$/ && got ~ /^[ym]$/)) next
		printf "%s (have: %s)\n", $0, got == "" ? "not set" : n "=" got
	}' "$1" "$2"
}

# user_kernel TREE: the harness's variables for a built kernel tree of the
# user's, as "VAR=value" lines (KVER, KIMAGE, KMODROOT, KDIR, KCONFIG,
# POLICY, OBSERVE, LABEL); on a tree it cannot use, one message saying
# what to do on stderr and a non-zero exit.
user_kernel() {
	local tree=$1 kver image modroot policy observe=0 version missing
	[ -e "$tree/.config" ] || { echo "$tree: no .config: not a configured kernel tree" >&2; return 1; }
	missing=$(config_missing "$tree/.config" "$PINLAB_ROOT/ci/kernel/pinlab-suite.config")
	if [ -n "$missing" ]; then
		{
			echo "$tree/.config lacks what the suite needs:"
			echo "$missing" | sed 's/^/  /'
			echo "merge the fragment and rebuild:"
			echo "  scripts/kconfig/merge_config.sh -m .config $PINLAB_ROOT/ci/kernel/pinlab-suite.config && make olddefconfig"
		} >&2
		return 1
	fi
	if [ -s "$tree/include/config/kernel.release" ]; then
		kver=$(cat "$tree/include/config/kernel.release")
	else
		kver=$(make -s -C "$tree" kernelrelease 2>/dev/null) || true
	fi
	[ -n "$kver" ] || { echo "$tree: no kernel release (not built? make bzImage modules)" >&2; return 1; }
	# The ELF vmlinux boots through PVH (about twice as fast as the
	# bzImage under TCG, which decompresses itself), where the config has it.
	if grep -qx 'CONFIG_PVH=y' "$tree/.config" && [ -e "$tree/vmlinux" ]; then
		image=$tree/vmlinux
	elif [ -e "$tree/arch/x86/boot/bzImage" ]; then
		image=$tree/arch/x86/boot/bzImage
	else
		echo "$tree: no arch/x86/boot/bzImage (nor a vmlinux with CONFIG_PVH=y): make bzImage" >&2
		return 1
	fi
	[ -e "$tree/Module.symvers" ] ||
		{ echo "$tree: no Module.symvers: make modules (mockdma is built against the tree)" >&2; return 1; }
	modroot=${INSTALL_MOD_PATH:-$tree/mod-install}
	modroot=$(cd "$modroot" 2>/dev/null && pwd) || modroot=
	if [ -z "$modroot" ] || [ ! -d "$modroot/lib/modules/$kver" ]; then
		echo "$tree: no modules of $kver under ${INSTALL_MOD_PATH:-$tree/mod-install}/lib/modules: make modules_install INSTALL_MOD_PATH=${INSTALL_MOD_PATH:-$tree/mod-install}" >&2
		return 1
	fi
	[ -e "$modroot/lib/modules/$kver/modules.dep" ] || depmod -b "$modroot" "$kver" ||
		{ echo "depmod -b $modroot $kver failed" >&2; return 1; }
	# `make clean` in the tree deletes every *.ko under it, mod-install's too.
	missing=$(cd "$modroot/lib/modules/$kver" && cut -d: -f1 modules.dep |
		while read -r ko; do [ -e "$ko" ] || echo "$ko"; done | head -n 3)
	if [ -n "$missing" ]; then
		echo "$modroot/lib/modules/$kver lacks modules its modules.dep lists ($(echo $missing)): make modules_install INSTALL_MOD_PATH=${INSTALL_MOD_PATH:-$tree/mod-install} again (make clean deletes them)" >&2
		return 1
	fi
	# Expectations (pl_kernel() decides the same in the guest, from
	# /proc/kallsyms and uname): the series', else by version.
	version=$(echo "$kver" | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
	if [[ $kver == *-pinlab-base ]] || [[ $kver == *-pinlab-patched ]]; then
		# One of ci/build-kernel.sh's trees: ours, by its name.
		policy=${kver##*-pinlab-}
	elif grep -q ' dma_pin_lru_pinned$' "$tree/System.map" 2>/dev/null; then
		policy=user-patched
	elif [ "$version" -le 6004 ]; then
		policy=user-6.1
	else
		policy=user-6.12
	fi
	# pinlab places 6.1 to 6.12: outside them, and when asked, observe.
	if [ "$version" -lt 6001 ] || [ "$version" -gt 6012 ] || [ "${PINLAB_OBSERVE:-0}" = 1 ]; then
		observe=1
	fi
	cat <<EOT
KVER=$kver
KIMAGE=$image
KMODROOT=$modroot
KDIR=$tree
KCONFIG=$tree/.config
POLICY=$policy
OBSERVE=$observe
LABEL=user-$(echo "$kver" | tr -c 'A-Za-z0-9._\n-' _)
EOT
}

# The user's kernel trees: checked, then mockdma built against each, its
# results named user-<release>.  A tree that cannot be used is a failed
# host check, and is not booted.
user_kernels=
for k in $kernels; do
	case $k in /*|./*|../*) ;; *) continue ;; esac
	kernels=$(echo " $kernels " | sed "s| $k | |")
	tree=$(cd "$k" && pwd)
	step "checking the kernel tree $tree"
	if ! vars=$(user_kernel "$tree" 2> "$out/user-kernel.err"); then
		sed 's/^/# /' "$out/user-kernel.err" >> "$host"
		echo "not ok kernel tree $tree is usable (config holds ci/kernel/pinlab-suite.config, built, modules installed)" >> "$host"
		step "FAILED: kernel tree $tree, not booted:"
		cat "$out/user-kernel.err" >&2
		[ "$mode" = shell ] && die "the kernel tree $tree cannot be booted"
		continue
	fi
	echo "ok kernel tree $tree is usable (config holds ci/kernel/pinlab-suite.config, built, modules installed)" >> "$host"
	label=$(echo "$vars" | sed -n 's/^LABEL=//p')
	case " $user_kernels " in
	*" $label "*) die "two kernel trees of one release: $label" ;;
	esac
	kernel_vars "$label" "$vars"
	user_kernels+=" $label"
	kernels+=" $label"
	echo "kernel_$label tree $tree release ${KV[$label.KVER]} config $(sha256sum "$tree/.config" | cut -c1-16) policy ${KV[$label.POLICY]}$([ "${KV[$label.OBSERVE]}" = 1 ] && echo ' observe')" >> "$out/identity.txt"
	llvm=()
	grep -qx 'CONFIG_CC_IS_CLANG=y' "$tree/.config" && llvm=(LLVM=1)
	step "building mockdma.ko against ${KV[$label.KVER]} ($tree), expectations ${KV[$label.POLICY]}$([ "${KV[$label.OBSERVE]}" = 1 ] && echo ', observe mode')"
	driver_for "$label" "$tree" "driver builds against $label with no warnings (W=1)" \
		${llvm[@]+"${llvm[@]}"}
done
is_user() { case " $user_kernels " in *" $1 "*) return 0 ;; esac; return 1; }
kernels=$(echo $kernels)
[ -n "$kernels" ] || [ "$mode" = shell ] || step "no kernel left to boot"

if [ "$mode" = check ]; then
	step "checkpatch --strict and sparse on driver/"
	host_check "driver is checkpatch --strict clean" \
		make -C "$PINLAB_ROOT/driver" KSRC="$KSRC" check
	host_check "driver is sparse clean (C=2)" \
		make -C "$PINLAB_ROOT/driver" KDIR="$KDIR" C=2
	if has_kernel stock612 && [ -n "${KV[stock612.KDIR]:-}" ]; then
		host_check "driver is sparse clean against stock612 (C=2)" \
			make -C "$out/stock612/mockdma" KDIR="${KV[stock612.KDIR]}" C=2
	fi
	# checkpatch misreads a patch file inside a git work tree: run it
	# from a scratch directory.
	step "checkpatch --strict on patches/"
	host_check "patches/ are checkpatch --strict clean" \
		bash -c 'cd "$(mktemp -d)" && for p in "$1"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
			case $p in */0000-*) continue ;; esac
			perl "$2/scripts/checkpatch.pl" --strict --no-tree -q "$p" || exit 1
		done' _ "$PINLAB_ROOT" "$KSRC"
	step "page-flags layout of the series on Debian's config"
	host_check --diag "page-flags layout of the series equals base's on Debian's amd64 config" \
		"$PINLAB_ROOT/ci/pageflags-layout.sh"
	step "report.py self-test"
	host_check "report.py judges synthetic runs as it should (ci/test-report.py)" \
		python3 "$PINLAB_ROOT/ci/test-report.py"
	# make lava's host side (ids, comparison, lava-run's log, the job
	# template) with Debian's python3 and its jinja2 and yaml, as
	# ci/lava/run-job.sh runs it.
	step "ci/lava/lava.py self-test"
	need_pkgs python3-jinja2 python3-yaml
	host_check "lava.py maps, reads and compares LAVA test cases as it should (ci/lava/test-lava.py)" \
		/usr/bin/python3 "$PINLAB_ROOT/ci/lava/test-lava.py"
fi

# The whole suite (no TESTS given): make check then also boots the payload.
whole_suite=${TESTS:+no}
case $mode in
check|lava) TESTS=${TESTS:-$(make -s -C "$PINLAB_ROOT/userspace" list)} ;;
run) TESTS=${TESTS:-$(make -s -C "$PINLAB_ROOT/userspace" list-matrix)} ;;
stress) TESTS=${TESTS:-$(make -s -C "$PINLAB_ROOT/userspace" list)}
	# Under KASAN and lockdep in TCG a program takes several times as
	# long as on patched; the long fuzz alone some minutes.
	# KASAN's shadow (1/8) and quarantine hold memory the 2 GiB guest
	# needs for huge pages (khugepaged's selftest failed to allocate
	# one): 3 GiB.
	# 6.1's rxe_mr_copy() bug (ci/expected-splats) reaches KASAN in the
	# programs below; KASAN's first report taints the kernel and turns
	# lockdep off for the rest of the boot: they run last, so that every
	# other program runs under lockdep (kasan_multi_shot, boot(), keeps
	# KASAN reporting after that first report).
	kasan_last=" rdma_write_file dma_bench "
	TESTS="$(for t in $TESTS; do case $kasan_last in *" $t "*) ;; *) echo "$t" ;; esac; done
		for t in $TESTS; do case $kasan_last in *" $t "*) echo "$t" ;; esac; done)"
	export STRESS=1 TEST_TIMEOUT=${TEST_TIMEOUT:-2400} \
		VM_TIMEOUT=${VM_TIMEOUT:-7200} VM_MEM=${VM_MEM:-3072} ;;
bench) TESTS=${TESTS:-$(make -s -C "$PINLAB_ROOT/userspace" list-bench)}
	# A full pin_bench takes 6 min on stock on the loaded 2-core
	# machine, twice that where gup_test runs too.
	export BENCH=full TEST_TIMEOUT=${TEST_TIMEOUT:-2400} \
		VM_TIMEOUT=${VM_TIMEOUT:-5400}
	# BENCH_ICOUNT=1: the guests count instructions (ci/vm.sh
	# VM_ICOUNT), for the figures a wall clock across boots cannot give
	# (P2 off against base); pin_bench's short run by default (one host
	# thread for the guest: a full run would take an hour).
	if [ "${BENCH_ICOUNT:-0}" = 1 ]; then
		export VM_ICOUNT=1 BENCH=
		[ -n "$whole_suite" ] || TESTS=pin_bench
	fi ;;
shell) TESTS= ;;
*) die "unknown mode $mode (check|run|bench|stress|shell|lava)" ;;
esac
# Programs that need a boot of their own (userspace/Makefile
# MOVABLE_TESTS: movablecore=, for ZONE_MOVABLE) run in a second boot of
# each kernel, after the first.
movable_all=" $(make -s -C "$PINLAB_ROOT/userspace" list-movable | tr '\n' ' ') "
off_list=list-series-off
[ "$mode" = bench ] && off_list=list-series-off-bench
off_all=" $(make -s -C "$PINLAB_ROOT/userspace" $off_list | tr '\n' ' ') "
main_tests= movable_tests= off_tests=
for t in $TESTS; do
	# make stress boots once: no second-boot programs.
	if [ "$mode" = stress ]; then
		case $movable_all in *" $t "*) continue ;; esac
		main_tests+=" $t"
		continue
	fi
	case $off_all in *" $t "*) off_tests+=" $t" ;; esac
	case $movable_all in
	*" $t "*) movable_tests+=" $t" ;;
	*) main_tests+=" $t" ;;
	esac
done
export TESTS

[ -e "$MOCKDMA_KO" ] || die "driver/mockdma.ko did not build (see $host)"

# boot KERNEL MODE [PROFILE]: one VM on that kernel, results in
# $out/KERNEL (or $out/KERNEL+PROFILE, booted with $VM_APPEND).  A debug
# build is the patched (or base) kernel's: its programs and results are
# that kernel's, in $out/patched+debug (base+debug).
boot() {
	local k=$1 label=$1 profile=${3:-} append=${VM_APPEND:-}
	local policy=$1 observe=0 kconfig=
	[ "$k" = debug ] && label=patched profile=debug policy=patched
	[ "$k" = base-debug ] && label=base profile=debug policy=base
	if is_user "$k"; then
		policy=${KV[$k.POLICY]} observe=${KV[$k.OBSERVE]} kconfig=${KV[$k.KCONFIG]}
	fi
	# A debug build reports every KASAN bug, not only the boot's first.
	[ "$profile" = debug ] && append+=" kasan_multi_shot"
	local dir=$out/$label${profile:++$profile}
	# make lava: the LAVA job's run directory beside the direct one's.
	[ "$2" = lava ] && dir=$out/lava/$label${profile:++$profile}
	booted=$dir
	# The series is off unless booted with its parameter (page_ext is
	# sized at boot): ci/kernel/series.cmdline, beside its config.
	if { [ "$policy" = patched ] || [ "$policy" = user-patched ]; } && [ "$profile" != off ]; then
		append+=" $(grep -v '^#' "$PINLAB_ROOT/ci/kernel/series.cmdline" | tr '\n' ' ')"
	fi
	# A kernel that died before PID 1 ran ran none of ours.  A death that
	# ci/allowed-boot-flakes allows for this kernel (only kernels pinlab
	# does not build) is booted past once; the first console is kept and
	# reported as a result of its own (ci/report.py, console.boot1.log).
	# Any other death, a second one, a hang (timeout) or a death after
	# init fails as before.  (QEMU's exit status does not tell a death:
	# panic=-1 with -no-reboot exits 0.)
	local attempt rc
	for attempt in 1 2; do
		rc=0
		if [ "$k" != stock ]; then
			KVER=${KV[$k.KVER]} KIMAGE=${KV[$k.KIMAGE]} \
				KMODROOT=${KV[$k.KMODROOT]} \
				MOCKDMA_KO=$out/$k/mockdma/mockdma.ko KLABEL=$label \
				KPOLICY=$policy KOBSERVE=$observe KCONFIG=$kconfig \
				VM_APPEND=$append \
				VM_PROFILE=$profile "$PINLAB_ROOT/ci/vm.sh" "$dir" "$2" || rc=$?
		else
			KLABEL=stock VM_PROFILE=$profile "$PINLAB_ROOT/ci/vm.sh" "$dir" "$2" ||
				rc=$?
		fi
		[ "$attempt" = 1 ] && [ "$2" = check ] && [ "$rc" != 124 ] &&
			[ ! -e "$dir/setup.status" ] || return "$rc"
		grep -q 'pinlab-init: PID 1 running' "$dir/console.log" 2>/dev/null && return "$rc"
		python3 "$PINLAB_ROOT/ci/report.py" boot-flake "$dir" >/dev/null || return "$rc"
		mv "$dir/console.log" "$dir/console.boot1.log"
		step "$label${profile:++$profile}: the kernel died before init; booting it once more"
	done
}

if [ "$mode" = shell ]; then
	boot "$kernels" shell
	exit 0
fi

# boots KERNEL [PROFILE]: boot() in check mode, and under make lava the
# same boot again as a LAVA job; records the run directories in runs (and
# lava_runs).
runs=() lava_runs=()
boots() {
	boot "$1" check ${2:+"$2"} || true
	runs+=("$booted")
	if [ "$mode" = lava ]; then
		boot "$1" lava ${2:+"$2"} || true
		lava_runs+=("$booted")
	fi
}

for k in $kernels; do
	if [ "$k" = debug ] || [ "$k" = base-debug ]; then
		TESTS=$main_tests boots "$k"
		continue
	fi
	if [ -n "$main_tests" ] || [ -z "$movable_tests" ]; then
		TESTS=$main_tests boots "$k"
	fi
	if [ -n "$movable_tests" ]; then
		# Half the guest's 2 GiB as ZONE_MOVABLE.
		TESTS=$movable_tests VM_APPEND="movablecore=1G" boots "$k" movable
	fi
	if [ "$k" = patched ] && [ -n "$off_tests" ]; then
		# The series booted off: no ci/kernel/series.cmdline.
		TESTS=$off_tests boots "$k" off
	fi
done

# The guest payload's path (ci/mkpayload.sh: a Debian root and the results
# on disks, no 9p), the one labs and make lava take, booted once by the
# whole make check on stock: programs that need its packages (libibverbs
# and rxe, liburing, fio with python3), results stock+payload.
PAYLOAD_SMOKE="oracle rdma_reg_matrix uring_fixed_buf fio_jobs"
if [ "$mode" = check ] && [ -z "$whole_suite" ] && [ "$PINLAB_GUEST" = 9p ] &&
	has_kernel stock; then
	TESTS=$PAYLOAD_SMOKE PINLAB_GUEST=payload boots stock payload
fi

step "report"
status=0
if [ ${#runs[@]} = 0 ]; then
	# No kernel could be booted (a kernel tree that failed its check):
	# the host checks say why.
	python3 "$PINLAB_ROOT/ci/report.py" check --host "$host" > "$out/results.ktap" || status=$?
	grep -E '^(not ok|#)' "$out/results.ktap" | head -n 60 || true
	step "KTAP: $out/results.ktap"
	tail -n 1 "$out/results.ktap"
	exit 1
fi
if [ "$mode" = check ] || [ "$mode" = stress ]; then
	python3 "$PINLAB_ROOT/ci/report.py" check --host "$host" "${runs[@]}" \
		> "$out/results.ktap" || status=$?
	grep -E '^(not ok|#)' "$out/results.ktap" | head -n 60 || true
	step "KTAP: $out/results.ktap"
	tail -n 1 "$out/results.ktap"
	if [ "$mode" = stress ]; then
		python3 "$PINLAB_ROOT/ci/report.py" stress "${runs[@]}" || status=1
	fi
elif [ "$mode" = lava ]; then
	# The direct runs' KTAP (no host checks: the LAVA job has none), then
	# the LAVA jobs' cases against it.  lava-run's exit status and its
	# job result say nothing of the cases: each run's lava-cases.txt does.
	python3 "$PINLAB_ROOT/ci/report.py" check "${runs[@]}" > "$out/direct.ktap" || true
	step "direct KTAP: $out/direct.ktap: $(tail -n 1 "$out/direct.ktap")"
	for r in "${lava_runs[@]}"; do
		cat "$r/lava-cases.txt" 2>/dev/null || true
	done > "$out/lava-cases.txt"
	step "LAVA: $(wc -l < "$out/lava-cases.txt") test cases; $(awk '{n[$2]++} END {printf "%d pass, %d fail, %d skip", n["pass"], n["fail"], n["skip"]}' "$out/lava-cases.txt")"
	step "comparing the LAVA jobs' test cases with the direct KTAP"
	# Which KTAP result each LAVA test case id stands for.
	python3 "$PINLAB_ROOT/ci/lava/lava.py" map < "$out/direct.ktap" > "$out/lava-ids.tsv" || true
	python3 "$PINLAB_ROOT/ci/lava/lava.py" compare "$out/direct.ktap" \
		"$out/lava-cases.txt" > "$out/lava-compare.txt" || status=1
	# The differences first, then the cases failed in both runs.
	grep -v '^# compared' "$out/lava-compare.txt" | head -n 60 | grep '^#' || true
	grep '^# compared' "$out/lava-compare.txt" || true
	tail -n 1 "$out/lava-compare.txt"
	step "comparison: $out/lava-compare.txt; jobs: $out/lava/*/lava/job.yaml"
elif [ "$mode" = bench ]; then
	python3 "$PINLAB_ROOT/ci/report.py" check --host "$host" "${runs[@]}" \
		> "$out/results.ktap" || status=$?
	grep -E '^not ok' "$out/results.ktap" | head -n 40 || true
	step "sanity checks (KTAP): $out/results.ktap: $(tail -n 1 "$out/results.ktap")"
	python3 "$PINLAB_ROOT/ci/report.py" bench --out "$out" "${runs[@]}" || status=1
	step "bench: $out/bench.md, $out/bench.json, $out/report.md, plots in $out/plots/"
else
	python3 "$PINLAB_ROOT/ci/report.py" matrix "${runs[@]}" > "$out/matrix.md"
	python3 "$PINLAB_ROOT/ci/report.py" report --out "$out" "${runs[@]}" > "$out/report.md"
	python3 "$PINLAB_ROOT/ci/report.py" check --host "$host" "${runs[@]}" \
		> "$out/results.ktap" || status=$?
	cat "$out/report.md"
	step "report: $out/report.md; matrix: $out/matrix.md; KTAP: $out/results.ktap"
	tail -n 1 "$out/results.ktap"
fi
exit $status
