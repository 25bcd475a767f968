#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm.sh RUN_DIR check|shell|lava: boot one kernel in QEMU (TCG) and run the
# tests named in $TESTS inside it, or open a shell; lava: the same boot as
# a LAVA job run by lava-run on this machine (ci/lava/run-job.sh).
#
# Needs in the environment (ci/fetch-kernel.sh prints them): KVER, KIMAGE,
# KMODROOT; and MOCKDMA_KO, TEST_DIR, TESTS, REPEAT, TEST_TIMEOUT, KLABEL
# (stock, base or patched; user-<release> for a user's tree), KPOLICY (the
# expectations the guest's programs take, PINLAB_KERNEL: KLABEL's, or a
# user tree's user-6.1, user-6.12 or user-patched), KOBSERVE (1: observe
# mode, ci/report.py), KCONFIG (the booted kernel's config, when it is
# neither Debian's /boot/config-* nor beside KIMAGE), MUTATE (ci/mutations; empty for none),
# BENCH ("full" under make bench: the benchmarks' full runs), STRESS and
# FUZZ_SEED (make stress: the long fuzz, more kill_unload rounds),
# VM_PROFILE and VM_APPEND (a second boot profile and its parameters),
# VM_MEM (the guest's MiB, default 2048), VM_ICOUNT (1: -icount shift=0),
# MM_SELFTESTS (the mm selftest binaries, ci/build-mm-selftests.sh),
# PINLAB_GUEST (9p, the default: the guest runs in the host's root shared
# over 9p; payload: in the guest payload of ci/mkpayload.sh, no 9p device).
# RUN_DIR receives run.env (read by the guest), fresh ext4 and xfs images,
# console.log (the whole serial console) and the per-test files written by
# ci/guest/run-tests.  In payload mode the guest writes them to
# RUN_DIR/results.img, copied back into RUN_DIR after the VM; payload.img and
# results.img are removed then, as the test images are.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

run=$1 mode=$2
guest=${PINLAB_GUEST:-9p}
# A LAVA job has no 9p share of this host: it boots the payload.
[ "$mode" = lava ] && guest=payload
case $guest in
9p|payload) ;;
*) die "PINLAB_GUEST=$guest: 9p (the host's root over 9p) or payload (ci/mkpayload.sh)" ;;
esac
need_pkgs qemu-system-x86 e2fsprogs xfsprogs btrfs-progs cryptsetup-bin
mkdir -p "$run"
run=$(cd "$run" && pwd)

# The initramfs only depends on the kernel's modules and the init script.
# KMODROOT is in the key: the patched kernel's release string is the same
# for every build of it.
initrd_key=$({ cat "$PINLAB_ROOT/ci/guest/init" "$PINLAB_ROOT/ci/mkinitramfs.sh"
	echo "$KMODROOT"
	# A user's tree is rebuilt in place: its modules decide what goes in,
	# and a rebuilt module keeps its name (size and mtime tell).
	cat "$KMODROOT/lib/modules/$KVER/modules.dep" \
		"$KMODROOT/lib/modules/$KVER/modules.builtin" 2>/dev/null || true
	find "$KMODROOT/lib/modules/$KVER" -name '*.ko*' -printf '%P %s %T@\n' \
		2>/dev/null | sort || true; } |
	sha256sum | cut -c1-16)
initrd=$PINLAB_CACHE/initramfs/$KVER-$initrd_key.cpio.gz
if [ ! -e "$initrd" ]; then
	step "building initramfs for $KVER"
	mkdir -p "$(dirname "$initrd")"
	"$PINLAB_ROOT/ci/mkinitramfs.sh" "$KMODROOT" "$KVER" "$initrd"
fi

# Fresh filesystems every run: no state leaks between runs.  Sparse files,
# 512 MiB each (mkfs.xfs in Debian 12 refuses less than 300 MiB).
step "creating fresh ext4 and xfs images"
rm -f "$run/ext4.img" "$run/xfs.img"
truncate -s 512M "$run/ext4.img" "$run/xfs.img"
mkfs.ext4 -q -F -L pinlab-ext4 "$run/ext4.img"
mkfs.xfs -q -f -L pinlab-xfs "$run/xfs.img"

# The test runs asked for, in order, so the report can name the ones a
# crashed VM never reached; and which kernel this is.
: > "$run/tests.list"
for t in ${TESTS:-}; do
	if [ "${REPEAT:-1}" -gt 1 ]; then
		for r in $(seq 1 "$REPEAT"); do echo "$t.r$r"; done
	else
		echo "$t"
	fi
done >> "$run/tests.list"
echo "${KLABEL:-stock}" > "$run/kernel.label"
# What the report checks the boot against: the expectations' policy, the
# release the harness meant to boot, observe mode.
echo "${KPOLICY:-${KLABEL:-stock}}" > "$run/kernel.policy"
echo "$KVER" > "$run/kernel.release"
if [ "${KOBSERVE:-0}" = 1 ]; then
	echo observe > "$run/kernel.observe"
else
	rm -f "$run/kernel.observe"
fi
# A second boot profile (VM_PROFILE, with its VM_APPEND kernel parameters)
# names its results <label>+<profile> (ci/report.py).
if [ -n "${VM_PROFILE:-}" ]; then
	echo "$VM_PROFILE" > "$run/kernel.profile"
else
	rm -f "$run/kernel.profile"
fi

# A mockdma.ko inside the run directory is named relative to it: the guest
# sees that directory at its own mount point (ci/guest/run-tests).
ko=$MOCKDMA_KO
case $ko in "$run"/*) ko=${ko#"$run"/} ;; esac
# The booted kernel's config, for programs that assert config facts:
# Debian's /boot/config-* of the stock package, else the built tree's.
kconfig=${KCONFIG:-$KMODROOT/boot/config-$KVER}
[ -e "$kconfig" ] || kconfig=$(dirname "$KIMAGE")/.config
cat > "$run/run.env" <<EOT
KVER='$KVER'
KMODROOT='$KMODROOT'
MOCKDMA_KO='$ko'
TEST_DIR='$TEST_DIR'
TESTS='${TESTS:-}'
REPEAT='${REPEAT:-1}'
TEST_TIMEOUT='${TEST_TIMEOUT:-600}'
KLABEL='${KLABEL:-stock}'
KPOLICY='${KPOLICY:-${KLABEL:-stock}}'
MUTATE='${MUTATE:-}'
BENCH='${BENCH:-}'
STRESS='${STRESS:-}'
FUZZ_SEED='${FUZZ_SEED:-}'
MM_SELFTESTS='${MM_SELFTESTS:-}'
KCONFIG='$kconfig'
EOT
echo "$guest" > "$run/guest.mode"

append="console=ttyS0 panic=-1 oops=panic hugepages=16 loglevel=4 ${VM_APPEND:-}"
append+=" pinlab_root=$PINLAB_ROOT pinlab_cache=$PINLAB_CACHE pinlab_mode=$mode"
# VM_ICOUNT=1 (make bench BENCH_ICOUNT=1): the guest's clock counts its
# instructions (-icount shift=0: one instruction is one virtual ns;
# sleep=off: an idle guest's clock does not run with the host's, it jumps
# to the next timer), so a time measured in the guest is an instruction
# count, interrupts included, that the host's load does not move.  One
# vCPU: with -smp 2 under -icount, 6.1 hangs at "smp: Bringing up
# secondary CPUs" (QEMU 7.2, measured).
accel=(-accel tcg,thread=multi -smp 2)
# The same jump makes a task that waits on the host (9p, a disk write)
# for a few real seconds wait "120 s" of guest time: the hung-task
# detector fired so in pin_bench (20261201-234547-bench), a clock
# artefact, not a hang; it is off in such a boot.
if [ "${VM_ICOUNT:-0}" = 1 ]; then
	accel=(-accel tcg,thread=single -icount shift=0,sleep=off -smp 1)
	append+=" sysctl.kernel.hung_task_timeout_secs=0"
	echo "shift=0" > "$run/vm.icount"
else
	rm -f "$run/vm.icount"
fi
qemu=(qemu-system-x86_64 -nodefaults -no-reboot
	-machine pc "${accel[@]}" -cpu max -m "${VM_MEM:-2048}"
	-kernel "$KIMAGE" -initrd "$initrd"
	-display none -monitor none)
# The test disks come first in both modes: run-tests mounts /dev/vda
# (ext4) and /dev/vdb (xfs).  The payload's disks follow (/dev/vdc, vdd;
# init finds them by label), and there is no 9p device at all.
disks=(-drive "file=$run/ext4.img,if=virtio,format=raw,cache=unsafe"
	-drive "file=$run/xfs.img,if=virtio,format=raw,cache=unsafe")
if [ "$guest" = payload ]; then
	"$PINLAB_ROOT/ci/mkpayload.sh" images "$run" ||
		die "the guest payload could not be made (ci/mkpayload.sh images $run)"
	append+=" pinlab_guest=payload"
	qemu+=(-append "$append" "${disks[@]}"
		-drive "file=$run/payload.img,if=virtio,format=raw,readonly=on"
		-drive "file=$run/results.img,if=virtio,format=raw,cache=unsafe")
else
	qemu+=(-append "$append"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$run,mount_tag=results,security_model=none,multidevs=remap"
		"${disks[@]}")
fi

# collect_payload: the results disk's files into RUN_DIR, then the
# payload's images go.
collect_payload() {
	[ "$guest" = payload ] || return 0
	"$PINLAB_ROOT/ci/mkpayload.sh" collect "$run" ||
		step "could not copy the results out of $run/results.img"
	rm -f "$run/payload.img" "$run/results.img"
}

if [ "$mode" = shell ]; then
	[ "$guest" = payload ] || exec "${qemu[@]}" -serial mon:stdio
	"${qemu[@]}" -serial mon:stdio || true
	collect_payload
	exit 0
fi

if [ "$mode" = lava ]; then
	# The same boot as a LAVA job run by lava-run (make lava): the same
	# kernel, initramfs, command line and disks in the same order.  The
	# job writes into lava-run's copy of results.img, removed with its
	# scratch directory: its results are its test cases
	# (RUN_DIR/lava-cases.txt) and its console (RUN_DIR/console.log).
	set +e
	"$PINLAB_ROOT/ci/lava/run-job.sh" "$run" "$KIMAGE" "$initrd" "$append" \
		"$run/ext4.img" "$run/xfs.img" "$run/payload.img" "$run/results.img"
	status=$?
	set -e
	rm -f "$run/ext4.img" "$run/xfs.img" "$run/payload.img" "$run/results.img"
	exit "$status"
fi

step "booting $KVER in QEMU (TCG) for: ${TESTS:-}"
set +e
timeout -k 10 "${VM_TIMEOUT:-3000}" "${qemu[@]}" -serial stdio </dev/null |
	tee "$run/console.log" | sed -u -n 's/^pinlab-guest: /  guest: /p' >&2
status=${PIPESTATUS[0]}
set -e
rm -f "$run/ext4.img" "$run/xfs.img"
collect_payload
[ "$status" -eq 124 ] && step "VM timed out after ${VM_TIMEOUT:-3000}s"
exit "$status"
