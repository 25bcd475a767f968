#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mm_selftests: the kernel's own mm selftests (tools/testing/selftests/vm/
# of Debian's linux-source-6.1, built on the host by
# ci/build-mm-selftests.sh against that tree's uapi headers) run in the
# guest, one KTAP case per selftest and option set.  A case passes when the
# selftest's exit status (0 pass, 1 fail, 4 KSFT_SKIP, 124 timed out) is
# the one the table below expects on this kernel; an expected skip or
# failure names its reason, and the reason's fact is asserted too (a config
# option of the booted kernel that is not set, the guest's NUMA node
# count).  base and patched share one column: the series must not change
# any outcome.
#
# Set-up (undone at the end, and the undoing asserted): a hugetlb pool of
# HUGE_PAGES pages (the boot's hugepages=16 is too small for the 256 MiB
# hugetlb selftests), a swap file on ext4 (khugepaged's swap cases page
# anonymous memory out with MADV_PAGEOUT), 32 MiB scratch files on the
# harness's ext4 and xfs filesystems for gup_test's MAP_SHARED file cases,
# and a hugetlbfs mount for the selftests that take a file there.  The
# selftests change mm knobs (THP, khugepaged, KSM, shmmax); every knob
# below is read before and written back after, and a case asserts it.
#
# Sizes, for the time budget under TCG (run_vmtests.sh's in brackets):
# gup_test 32 MiB per case (128 MiB), userfaultfd 8 MiB and 4 bounces
# (20 MiB and 16; hugetlb 128 MiB), ksm_tests 10 pages as there.
# khugepaged runs its anon and shmem sets; the file set needs
# CONFIG_READ_ONLY_THP_FOR_FS, set in neither Debian's nor the base config.
#
# Mutation (ci/mutations): PINLAB_MUTATE=mm-selftests-no-setup skips the
# set-up (no hugetlb pool beyond the boot's, no swap, no scratch files):
# the hugetlb, swap and file cases must turn red.
#
# Not run, once for all kernels:
#   hmm-tests, test_hmm.sh   need the test_hmm module (CONFIG_TEST_HMM),
#                            built by neither config
#   test_vmalloc.sh          needs the test_vmalloc module
#                            (CONFIG_TEST_VMALLOC), built by neither config
#   transhuge-stress         a stress loop with no end and no verdict
#   protection_keys_32, _64  the 32-bit build needs gcc-multilib; the
#                            64-bit one, on stock (PKU on), failed its test
#                            14 (ptrace PEEKDATA of pkey-protected memory)
#                            in 1 of 2 runs under TCG, and on base/patched
#                            (no CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS)
#                            runs only its "unsupported CPU/OS" part:
#                            QEMU's PKRU emulation, not mm, would be on
#                            trial
#   ksm_tests -U             failed 2 of 8 runs ("Not OK", once on stock,
#                            once on base): after unmerging by write it
#                            waits for one more full_scans increment, but
#                            with two pages to scan ksmd makes many passes
#                            per batch, so the pass that ends there can
#                            have started before the write (a race of the
#                            test, as far as we can tell); a flaky case
#                            would blur base vs patched
#   charge_reserved_hugetlb.sh, hugetlb_reparenting_test.sh
#                            need CONFIG_CGROUP_HUGETLB, not in the base
#                            config
set -u
ST=${PINLAB_MM_SELFTESTS:-}
EXT4=${PINLAB_EXT4:-/mnt/ext4}
XFS=${PINLAB_XFS:-/mnt/xfs}
HUGE_PAGES=160		# 320 MiB of 2 MiB pages: 256 MiB tests + slack
CASE_TIMEOUT=180
tmp=$(mktemp -d)
work=$tmp/work
hugemnt=$work/huge
swapfile=$EXT4/mm_selftests.swap

echo "TAP version 13"

# Which kernel this is: pl_kernel() decides (build/pl_kernel, beside this
# program), and fails when the harness's label disagrees.
rel=$(uname -r)
if ! kernel_facts=$("$(dirname "$(readlink -f "$0")")/pl_kernel"); then
	echo "$kernel_facts"
	exit 1
fi
eval "$kernel_facts"
kernel=$PL_KERNEL
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP not root"
	exit 4
fi
if [ -z "$ST" ] || [ ! -x "$ST/gup_test" ]; then
	echo "Bail out! no mm selftests in '${ST}' (ci/build-mm-selftests.sh)"
	exit 1
fi

# The booted kernel's config: /proc/config.gz where the kernel has one
# (base, patched), else the file the harness names (stock: Debian's
# /boot/config-*, from the package the kernel was booted from).
kconfig=$tmp/config
if [ -r /proc/config.gz ]; then
	zcat /proc/config.gz > "$kconfig"
elif [ -r "${PINLAB_KCONFIG:-}" ]; then
	cp "$PINLAB_KCONFIG" "$kconfig"
else
	echo "Bail out! no config of the booted kernel (/proc/config.gz, PINLAB_KCONFIG)"
	exit 1
fi

# Reasons an outcome other than a clean pass is expected: id, the fact
# asserted with it, and why.  Listed once; the cases below refer to them.
#   nogup      CONFIG_GUP_TEST is not set (Debian's config): there is no
#              /sys/kernel/debug/gup_test and gup_test exits 4.  Asserted:
#              the option is unset in the booted kernel's config and the
#              debugfs file is absent.
#   nosecret   CONFIG_SECRETMEM is not set (the base config):
#              memfd_secret() is ENOSYS, the selftest exits 4.  Asserted:
#              the option is unset.
#   secretoff  CONFIG_SECRETMEM=y but 6.1 leaves it off unless the command
#              line says secretmem.enable=1 (mm/secretmem.c): ENOSYS, exit
#              4.  Asserted: /sys/module/secretmem/parameters/enable is N.
#   numa1      the guest has one NUMA node (QEMU gives it one; the base
#              config has no CONFIG_NUMA): ksm_tests -N exits 4, and
#              migration's harness skips its three tests and exits 0.
#              Asserted: at most one /sys/devices/system/node/node*.
#   nomrelease a bug of the 6.1 test: mrelease_test.c does not include
#              <sys/syscall.h>, so __NR_process_mrelease is its fallback
#              -1, syscall() fails with ENOSYS and the test exits 4 before
#              process_mrelease() is ever called.  Asserted: its ENOSYS
#              message.
#   splitbug   a bug of the 6.1 test (c07c343cda8e "selftests/vm: dedup THP
#              helpers" in the tree; fixed upstream by dd63bd7df41a
#              "selftests/mm: fix split huge page tests"): it maps 4 PMD
#              THPs and checks for exactly 1 in AnonHugePages, then fails
#              "No THP is allocated".  Asserted: that message.
#   dontneed   the 6.1 kernel has the stable fix 8ebe0a5eaaeb ("mm,madvise,
#              hugetlb: fix unexpected data loss with MADV_DONTNEED on
#              hugetlbfs": the end of a hugetlb MADV_DONTNEED range is
#              rounded down, mm/madvise.c madvise_dontneed_free_valid_vma)
#              but its hugetlb-madvise test still expects it rounded up.
#              Asserted: the free-page count message of that step (line
#              212).
#   uffdenoent (6.12) a race of the 6.1 test with 6.12: its events test
#              copies while its own fork/mremap event is pending; 6.12's
#              mfill_atomic() looks the vma up (uffd_mfill_lock(): ENOENT)
#              before it checks mmap_changing (EAGAIN), 6.1 the other way
#              round, and the 6.1 test accepts only EEXIST: a pass, or
#              exit 1 on "UFFDIO_COPY error: -2" (2 of 4 boots of a
#              6.12.95 tree with two vCPUs).  Asserted: that line.
#   nopmdmap   (6.12) the 6.1 test's khugepaged context marks the shmem
#              range MADV_NOHUGEPAGE before it refaults the collapsed
#              folio, and 6.12's do_set_pmd() (mm/memory.c, "too late to
#              allocate a small folio") refuses a PMD mapping in a
#              VM_NOHUGEPAGE vma: its three khugepaged:shmem collapses say
#              Fail and it exits 3 (its failure count); the madvise ones
#              pass.  Asserted: exactly those three Fail lines.
reason_text() {
	case $1 in
	nogup) echo "CONFIG_GUP_TEST is not set in this kernel's config (no /sys/kernel/debug/gup_test)" ;;
	nosecret) echo "CONFIG_SECRETMEM is not set in this kernel's config (memfd_secret() is ENOSYS)" ;;
	secretoff) echo "secretmem is off (secretmem.enable=1 not on the command line): memfd_secret() is ENOSYS" ;;
	numa1) echo "the guest has one NUMA node (two needed)" ;;
	nomrelease) echo "test bug: no <sys/syscall.h>, __NR_process_mrelease falls back to -1 (ENOSYS)" ;;
	splitbug) echo "test bug fixed upstream by dd63bd7df41a: expects 1 THP in a 4-THP mapping" ;;
	dontneed) echo "kernel has 8ebe0a5eaaeb (hugetlb MADV_DONTNEED end rounded down), the 6.1 test expects it rounded up" ;;
	uffdenoent) echo "race of the 6.1 test with 6.12's mfill_atomic() (vma lookup ENOENT before the mmap_changing EAGAIN): UFFDIO_COPY error -2" ;;
	nopmdmap) echo "6.12's do_set_pmd() maps no PMD in a VM_NOHUGEPAGE vma; the 6.1 test refaults after MADV_NOHUGEPAGE" ;;
	*) echo "unknown reason '$1'" ;;
	esac
}

config_unset() {	# SYMBOL: true if CONFIG_SYMBOL is not set (=n or absent)
	! grep -qE "^CONFIG_$1=[ym]" "$kconfig"
}

# reason_holds ID OUTPUT: the fact behind reason ID is true on this boot
# (OUTPUT: the selftest's output).
reason_holds() {
	local nodes v
	case $1 in
	nogup) config_unset GUP_TEST && [ ! -e /sys/kernel/debug/gup_test ] ;;
	nosecret) config_unset SECRETMEM ;;
	secretoff)
		read -r v < /sys/module/secretmem/parameters/enable 2>/dev/null &&
			[ "$v" = N ] ;;
	numa1)
		nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
		[ "$nodes" -le 1 ] ;;
	nomrelease) grep -q 'process_mrelease with wrong pidfd: Function not implemented' "$2" ;;
	splitbug) grep -qx 'No THP is allocated' "$2" ;;
	dontneed) grep -qx 'Unexpected number of free huge pages line 212' "$2" ;;
	uffdenoent) clean < "$2" | grep -q 'ERROR: UFFDIO_COPY error: -2 (errno=' ;;
	nopmdmap)
		[ "$(clean < "$2" | awk '/^Run test:/ { t = $0 }
			/Fail$/ { n++; if (t !~ /\(khugepaged:shmem\)$/) bad++ }
			END { print n + 0, bad + 0 }')" = "3 0" ] ;;
	*) return 1 ;;
	esac
}

# The cases: name | expectation on stock | on base and patched | command.
# An expectation is "pass" (exit status 0 and no "ok N ... # SKIP" line
# of its own), "pass+skips=<reason>" (exit status 0 with at
# least one such line), "skip=<reason>" (exit status 4) or
# "fail=<reason>" (exit status 1).  Every selftest runs in a tmpfs directory holding the hugetlbfs mount
# as huge/ (hugepage-mmap opens huge/hugepagefile, as under
# run_vmtests.sh).  In the command, @EXT4 and @XFS are the scratch
# filesystems, @HUGE the hugetlbfs mount; "nobody:" runs it as user
# nobody, "overcommit:" with vm.overcommit_memory=1 (mremap_test maps 2 GiB
# regions it never fills: more than the guest's RAM + swap, which the
# default heuristic refuses).
# gup_test: -u get_user_pages_fast, -a pin_user_pages_fast, -L
# pin_user_pages(FOLL_LONGTERM), -b pin_user_pages (PIN_BASIC_TEST), -c
# dump pages; on private anonymous memory, THP (-t), hugetlb (-H), shared
# anonymous (shmem, -S) and MAP_SHARED files on ext4 and xfs (-S -f); 32
# MiB each, every page written first, FOLL_WRITE unless -W.
cases() {
	local b opt
	for b in "anon:" "thp:-t" "hugetlb:-H" "shmem:-S" \
		"ext4:-S -f @EXT4/gup_test.f" "xfs:-S -f @XFS/gup_test.f"; do
		for opt in -u -a -L -b; do
			echo "gup_test $opt ${b%%:*} | skip=nogup | pass | gup_test $opt -m 32 ${b#*:}"
		done
	done
	cat <<'EOT'
gup_test -L -W ext4 | skip=nogup | pass | gup_test -L -W -m 32 -S -f @EXT4/gup_test.f
gup_test -L -W xfs | skip=nogup | pass | gup_test -L -W -m 32 -S -f @XFS/gup_test.f
gup_test -ct dump | skip=nogup | pass | gup_test -ct -F 0x1 0 19 0x1000
mlock2-tests | pass | pass | mlock2-tests
mlock-random-test | pass | pass | mlock-random-test
on-fault-limit | pass | pass | nobody:on-fault-limit
madv_populate | pass | pass | madv_populate
map_populate | pass | pass | map_populate
map_fixed_noreplace | pass | pass | map_fixed_noreplace
mremap_dontunmap | pass | pass | mremap_dontunmap
mremap_test | pass | pass | overcommit:mremap_test
mrelease_test | skip=nomrelease | skip=nomrelease | mrelease_test
soft-dirty | pass | pass | soft-dirty
compaction_test | pass | pass | compaction_test
split_huge_page_test | fail=splitbug | fail=splitbug | split_huge_page_test
khugepaged anon | pass | pass | khugepaged all:anon
khugepaged shmem | pass | pass | khugepaged all:shmem
ksm_tests -M | pass | pass | ksm_tests -M -p 10
ksm_tests -Z -z 0 | pass | pass | ksm_tests -Z -p 10 -z 0
ksm_tests -Z -z 1 | pass | pass | ksm_tests -Z -p 10 -z 1
ksm_tests -N -m 1 | skip=numa1 | skip=numa1 | ksm_tests -N -m 1
ksm_tests -N -m 0 | skip=numa1 | skip=numa1 | ksm_tests -N -m 0
migration | pass+skips=numa1 | pass+skips=numa1 | migration
hugepage-mmap | pass | pass | hugepage-mmap
hugepage-shm | pass | pass | hugepage-shm
map_hugetlb | pass | pass | map_hugetlb
hugepage-mremap | pass | pass | hugepage-mremap @HUGE/huge_mremap
hugepage-vmemmap | pass | pass | hugepage-vmemmap
hugetlb-madvise | fail=dontneed | fail=dontneed | hugetlb-madvise @HUGE/madvise-test
thuge-gen | pass | pass | thuge-gen
userfaultfd anon | pass | pass | userfaultfd anon 8 4
userfaultfd anon:dev | pass | pass | userfaultfd anon:dev 8 4
userfaultfd shmem | pass | pass | userfaultfd shmem 8 4
userfaultfd hugetlb | pass | pass | userfaultfd hugetlb 8 4
userfaultfd hugetlb_shared | pass | pass | userfaultfd hugetlb_shared 8 4 @HUGE/uffd-test
memfd_secret | skip=secretoff | skip=nosecret | memfd_secret
virtual_address_range | pass | pass | virtual_address_range
EOT
}

# A kernel that takes 6.12's expectations (stock612, a user's 6.5+ tree)
# running the 6.1 selftests: its config's column, except where the newer
# kernel answers the older test otherwise (each with its reason above).
stock612_expect() {	# NAME EXPECTATION
	case $1 in
	'khugepaged shmem') echo fail=nopmdmap ;;
	'userfaultfd '*) echo pass-or-fail=uffdenoent ;;
	# secretmem is on by default from 6.5 (mm/secretmem.c), where built
	memfd_secret) if config_unset SECRETMEM; then echo "$2"; else echo pass; fi ;;
	*) echo "$2" ;;
	esac
}

# Knobs the selftests change (the 256 MiB SysV segment of hugepage-shm,
# THP and khugepaged settings, KSM), read before and written back after.
KNOB_FILES="/proc/sys/vm/nr_hugepages /proc/sys/kernel/shmmax
	/proc/sys/kernel/shmall /proc/sys/vm/overcommit_memory
	/sys/kernel/mm/transparent_hugepage/enabled
	/sys/kernel/mm/transparent_hugepage/defrag
	/sys/kernel/mm/transparent_hugepage/shmem_enabled
	/sys/kernel/mm/transparent_hugepage/use_zero_page
	/sys/kernel/mm/transparent_hugepage/khugepaged/defrag
	/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none
	/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_swap
	/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_shared
	/sys/kernel/mm/transparent_hugepage/khugepaged/pages_to_scan
	/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs
	/sys/kernel/mm/transparent_hugepage/khugepaged/alloc_sleep_millisecs
	/sys/kernel/mm/ksm/run /sys/kernel/mm/ksm/merge_across_nodes
	/sys/kernel/mm/ksm/use_zero_pages /sys/kernel/mm/ksm/pages_to_scan
	/sys/kernel/mm/ksm/sleep_millisecs /sys/kernel/mm/ksm/max_page_sharing"

knob_value() {	# PATH: its value; a choice list reads as the chosen one
	local v
	read -r v < "$1" 2>/dev/null || [ -n "${v:-}" ] || return 1
	case $v in
	*\[*\]*) v=${v#*\[}; v=${v%%\]*} ;;
	esac
	echo "$v"
}

knobs() {
	local f
	for f in $KNOB_FILES; do
		[ -e "$f" ] && echo "$f $(knob_value "$f")"
	done
}

n=0 fails=0
result() {	# ok|fail NAME [DIAG...]
	local res=$1 name=$2
	shift 2
	n=$((n + 1))
	for d in "$@"; do echo "# $d"; done
	if [ "$res" = ok ]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
		fails=$((fails + 1))
	fi
}

rc_text() {
	case $1 in
	0) echo "0 (pass)" ;;
	1) echo "1 (fail)" ;;
	4) echo "4 (KSFT_SKIP)" ;;
	124) echo "124 (timed out after ${CASE_TIMEOUT} s)" ;;
	*) echo "$1" ;;
	esac
}

# ANSI colours (khugepaged's) and carriage returns out of the diagnostics.
clean() { sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\r/\n/g'; }

# run_case NAME EXPECTATION COMMAND: one KTAP result.
run_case() {
	local name=$1 expect=$2 cmd=$3 user='' oc='' rc want reason='' skips=0 t0 out=$tmp/out
	local -a argv pre=()
	cmd=${cmd//@EXT4/$EXT4}
	cmd=${cmd//@XFS/$XFS}
	cmd=${cmd//@HUGE/$hugemnt}
	case $cmd in
	nobody:*) user=nobody; cmd=${cmd#nobody:} ;;
	overcommit:*) oc=1; cmd=${cmd#overcommit:} ;;
	esac
	read -r -a argv <<< "$cmd"
	case $expect in
	pass) want=0 ;;
	pass+skips=*) want=0; skips=1; reason=${expect#pass+skips=} ;;
	skip=*) want=4; reason=${expect#skip=} ;;
	fail=*) want=1; reason=${expect#fail=}
		# khugepaged exits with its number of failures
		[ "$reason" = nopmdmap ] && want=3 ;;
	pass-or-fail=*) want=0; reason=${expect#pass-or-fail=} ;;
	*) want=bad ;;
	esac
	[ -n "$user" ] && pre=(setpriv --reuid="$user" --regid=nogroup --clear-groups)
	echo "# [RUN] $name: $cmd${user:+ (as $user)}${oc:+ (vm.overcommit_memory=1)}"
	[ -n "$oc" ] && echo 1 > /proc/sys/vm/overcommit_memory
	t0=$SECONDS
	(cd "$work" && timeout -k 5 "$CASE_TIMEOUT" ${pre[@]+"${pre[@]}"} \
		"$ST/${argv[0]}" "${argv[@]:1}") > "$out" 2>&1 < /dev/null
	rc=$?
	local took=$((SECONDS - t0)) diag=() why=() inner
	[ -n "$oc" ] && echo "$overcommit0" > /proc/sys/vm/overcommit_memory
	# The selftest's own skipped subtests (kselftest "ok N ... # SKIP").
	inner=$(clean < "$out" | grep -cE '^ok [0-9]+ .*# SKIP')
	# A race of the test with this kernel (its reason): a pass, or the
	# failure the reason names and asserts.
	if [ "${expect%%=*}" = pass-or-fail ] && [ "$rc" = 1 ]; then
		want=1
	elif [ "${expect%%=*}" = pass-or-fail ]; then
		reason=
	fi
	[ "$rc" = "$want" ] || why+=("exit status $(rc_text "$rc"), expected $(rc_text "$want")")
	if [ "$want" != 0 ]; then
		:	# a whole-program skip or failure: its subtests do not count
	elif [ "$skips" = 1 ] && [ "$inner" = 0 ]; then
		why+=("no subtest skipped, the expectation says some skip")
	elif [ "$skips" = 0 ] && [ "$inner" != 0 ]; then
		why+=("$inner of its subtests skipped, the expectation allows none")
	fi
	if [ -n "$reason" ] && ! reason_holds "$reason" "$out"; then
		why+=("the expectation's reason does not hold on this boot: $(reason_text "$reason")")
	fi
	if [ ${#why[@]} = 0 ]; then
		local sk=
		[ "$inner" != 0 ] && sk=", $inner subtests skipped"
		diag+=("[INFO] $name: exit status $(rc_text "$rc")$sk as expected${reason:+: $(reason_text "$reason")}, $took s")
		clean < "$out" | tail -n 3 | sed 's/^/  /' > "$tmp/tail"
		result ok "$name" "${diag[@]}"
		sed 's/^/# /' "$tmp/tail"
	else
		for w in "${why[@]}"; do diag+=("[FAIL] $name: $w"); done
		diag+=("[INFO] $took s")
		clean < "$out" | tail -n 40 | sed 's/^/  /' > "$tmp/tail"
		while IFS= read -r l; do diag+=("$l"); done < "$tmp/tail"
		result fail "$name" "${diag[@]}"
	fi
}

# undo: unmount, swapoff, remove the scratch files, write the knobs back
# (idempotent: the end of the program, and on any exit).
undo_diag=()
undo() {
	local ok=0 f v
	undo_diag=()
	if mountpoint -q "$hugemnt"; then
		umount "$hugemnt" || { ok=1; undo_diag+=("umount $hugemnt failed"); }
	fi
	if grep -q "^$swapfile " /proc/swaps; then
		swapoff "$swapfile" || { ok=1; undo_diag+=("swapoff $swapfile failed"); }
	fi
	rm -f "$swapfile" "$EXT4/gup_test.f" "$XFS/gup_test.f"
	if [ -e "$tmp/knobs0" ]; then
		while read -r f v; do
			[ "$(knob_value "$f")" = "$v" ] || echo "$v" > "$f" 2>/dev/null
		done < "$tmp/knobs0"
	fi
	return $ok
}
trap 'undo; rm -rf "$tmp"' EXIT
trap 'exit 1' TERM INT

cases > "$tmp/cases"
# set-up, the cases, teardown
echo "1..$(($(wc -l < "$tmp/cases") + 2))"
knobs > "$tmp/knobs0"
t_all=$SECONDS
overcommit0=$(cat /proc/sys/vm/overcommit_memory)
mkdir -p "$work"
setup_ok=1
setup_diag=()
hugetlb_before=$(cat /proc/sys/vm/nr_hugepages)
if [ "${PINLAB_MUTATE:-}" = mm-selftests-no-setup ]; then
	setup_diag+=("mutation mm-selftests-no-setup: no set-up")
else
	# Memory the pool needs may sit in the page cache.
	sync
	echo 3 > /proc/sys/vm/drop_caches
	echo "$HUGE_PAGES" > /proc/sys/vm/nr_hugepages
	free=$(awk '$1 == "HugePages_Free:" {print $2}' /proc/meminfo)
	setup_diag+=("hugetlb pool: nr_hugepages $hugetlb_before -> $(cat /proc/sys/vm/nr_hugepages), $free free")
	[ "${free:-0}" -ge "$HUGE_PAGES" ] || setup_ok=0
	mkdir -p "$hugemnt"
	mount -t hugetlbfs none "$hugemnt" || { setup_ok=0; setup_diag+=("hugetlbfs mount failed"); }
	# 64 MiB of swap, written out (swapon refuses files with holes).
	if dd if=/dev/zero of="$swapfile" bs=1M count=64 status=none &&
		chmod 0600 "$swapfile" && mkswap -q "$swapfile" > /dev/null &&
		swapon "$swapfile"; then
		setup_diag+=("swap: $(awk 'NR > 1 {print $1, $3 " KiB"}' /proc/swaps)")
	else
		setup_ok=0
		setup_diag+=("swap file on $EXT4 failed")
	fi
	for d in "$EXT4" "$XFS"; do
		truncate -s 32M "$d/gup_test.f" || { setup_ok=0; setup_diag+=("scratch file on $d failed"); }
	done
fi
result "$([ $setup_ok = 1 ] && echo ok || echo fail)" "set-up: hugetlb pool, hugetlbfs, swap, scratch files" \
	"[INFO] kernel $kernel ($rel)" "${setup_diag[@]}" "[INFO] set-up: $((SECONDS - t_all)) s"

while IFS='|' read -r name stock own cmd; do
	name=$(echo $name) stock=$(echo $stock) own=$(echo $own) cmd=$(echo $cmd)
	# The stock column is Debian's config (stock, stock612); the
	# other ours and a user kernel's (ci/kernel/pinlab-suite.config).
	want=$own
	[ "$PL_DEBIAN" = 1 ] && want=$stock
	case $kernel in
	stock612|user-6.12) want=$(stock612_expect "$name" "$want") ;;
	esac
	run_case "$name" "$want" "$cmd"
done < "$tmp/cases"

# Teardown: everything back as it was.
td_ok=1
td_diag=()
undo || { td_ok=0; td_diag+=("${undo_diag[@]}"); }
knobs > "$tmp/knobs1"
if ! cmp -s "$tmp/knobs0" "$tmp/knobs1"; then
	td_ok=0
	while read -r l; do td_diag+=("knob not restored: $l"); done <<< "$(diff "$tmp/knobs0" "$tmp/knobs1" | grep '^[<>]')"
fi
result "$([ $td_ok = 1 ] && echo ok || echo fail)" "teardown: hugetlb pool, swap, knobs restored" \
	"[INFO] whole program: $((SECONDS - t_all)) s" "${td_diag[@]}"
[ "$fails" = 0 ]
