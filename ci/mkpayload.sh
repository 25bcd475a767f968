#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkpayload.sh root|images RUN_DIR|collect RUN_DIR: the guest payload, a
# root that boots where the host's root cannot be shared over 9p (a lab, a
# LAVA job, a real test host).  ci/vm.sh uses it under PINLAB_GUEST=payload.
#
#   root     build once, with mmdebstrap from the host's Debian mirror
#            (host_mirror, ci/lib.sh), a bookworm root holding the packages
#            of ci/guest/payload.packages (--variant=essential plus those,
#            no docs, man pages or locales), cached in
#            $PINLAB_CACHE/payload/<key>/root, key = hash of the package
#            list, this script and the mirror; prints PAYLOAD_ROOT=<dir>
#   images   per boot, from RUN_DIR/run.env (ci/vm.sh writes it first):
#            RUN_DIR/payload.img   raw ext4, LABEL pinlab-root: the cached
#                                  root plus pinlab's files at their host
#                                  absolute paths, so run.env's paths hold
#                                  unchanged in the guest: ci/guest,
#                                  $TEST_DIR, workloads/, $MM_SELFTESTS,
#                                  $KMODROOT/lib/modules/$KVER, $KCONFIG and
#                                  an absolute $MOCKDMA_KO
#            RUN_DIR/results.img   raw ext4, LABEL pinlab-results: what the
#                                  guest reads from its results directory
#                                  (run.env, tests.list, kernel.label,
#                                  kernel.profile, guest.mode, a relative
#                                  MOCKDMA_KO)
#            Both are made with mke2fs -d: no loop mount, no kernel module
#            on the host.  ci/guest/init (pinlab_guest=payload) mounts the
#            first read-only at /host, the second read-write at
#            /host/mnt/results.
#   collect  after the VM: every file of RUN_DIR/results.img copied into
#            RUN_DIR with debugfs rdump (no mount), so ci/report.py sees
#            what a 9p run leaves.
#
# This is the interface ci/vm.sh and the LAVA job (part 4 of issue 15)
# share: file names, labels and subcommands stay as they are.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

packages=$PINLAB_ROOT/ci/guest/payload.packages
top=$PINLAB_CACHE/payload

# pkg_names: the package column of payload.packages (comments and blank
# lines out).
pkg_names() {
	sed -e 's/#.*//' "$packages" | awk 'NF { print $1 }'
}

# pkg_files: the files payload.packages says the guest needs, one a line.
pkg_files() {
	sed -e 's/#.*//' "$packages" | awk '{ for (i = 2; i <= NF; i++) print $i }'
}

# The mirror is an input: another mirror may serve other versions.  So is
# what it serves: the Date of bookworm's InRelease as the host's apt lists
# last saw it (a point release changes it; mmdebstrap installs bookworm's
# newest versions).
mirror=$(host_mirror | awk 'NR == 1')
key=$({
	sha256sum < "$packages"
	sha256sum < "$0"
	echo "mirror $mirror"
	# (awk reads to the end: an early exit would SIGPIPE cat, and
	# pipefail would then fail the key; no lists is no line)
	{ cat /var/lib/apt/lists/*_dists_bookworm_InRelease 2>/dev/null || true; } |
		awk '/^Date:/ && !seen++'
} | sha256sum | cut -c1-16)
dir=$top/$key

# build_root: mmdebstrap into a scratch directory beside the cache entry,
# moved into place only when complete; then every file payload.packages
# names must exist in it (resolved inside the root: /sbin is a symlink).
build_root() {
	local tmp=$dir.tmp.$$ log=$dir.log p missing=()
	rm -rf "$tmp"
	mkdir -p "$tmp"
	step "building the guest payload $key (mmdebstrap bookworm from $mirror)"
	# Docs, man pages, locales and the like are never read in the guest.
	if ! mmdebstrap --variant=essential \
		--include="$(pkg_names | paste -sd,)" \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-include=/usr/share/locale/locale.alias' \
		--dpkgopt='path-exclude=/usr/share/lintian/*' \
		--dpkgopt='path-exclude=/usr/share/bash-completion/*' \
		bookworm "$tmp/root" \
		"deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
		> "$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -rf "$tmp"
		die "mmdebstrap failed (see $log)"
	fi
	for p in $(pkg_files); do
		chroot "$tmp/root" /usr/bin/test -e "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		rm -rf "$tmp"
		die "payload root lacks ${missing[*]} (ci/guest/payload.packages)"
	fi
	# What went in, for the record (report readers, a later diff).
	chroot "$tmp/root" dpkg-query -W -f='${Package} ${Version}\n' > "$tmp/manifest"
	mv "$log" "$tmp/build.log"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	touch "$dir/.done"
}

# ensure_root: the cached root of this key, built if absent; the two most
# recently used keys are kept (the same rule as the kernel builds), an
# entry another run is reading (images: a shared lock) stays.
ensure_root() {
	need_pkgs mmdebstrap e2fsprogs
	mkdir -p "$top"
	exec 9> "$top/$key.lock"
	flock 9
	if [ -e "$dir/.done" ]; then
		step "guest payload $key is cached"
		touch "$dir/.done"
	else
		local t0
		t0=$(date +%s)
		build_root
		step "guest payload $key built in $(($(date +%s) - t0)) s ($(du -sh "$dir/root" | cut -f1))"
	fi
	flock -u 9
	exec 9>&-
	keep_recent "$top" "$dir"
}

# stage SRC DEST: SRC at its own absolute path under DEST, hard-linked when
# both lie on one filesystem (the module tree is 400 MB), else copied.
stage() {
	local src=$1 dest=$2
	[ -e "$src" ] || die "payload: $src does not exist"
	# Not cp --parents: coreutils 9.1 fails it with -l.
	mkdir -p "$dest$(dirname "$src")"
	if [ "$(stat -c %d "$src")" = "$(stat -c %d "$dest")" ]; then
		cp -al "$src" "$dest$src"
	else
		cp -a "$src" "$dest$src"
	fi
}

# mkext4 DIR LABEL IMG [MIN_MIB]: IMG a raw ext4 of DIR's files, sized to
# them (plus MIN_MIB at least, for a disk the guest writes), no journal: the
# root is mounted read-only, and the guest mounts the results disk with
# -o sync, so what it wrote before a crash is on the disk, as over 9p.
mkext4() {
	local src=$1 label=$2 img=$3 min=${4:-0} mib inodes
	mib=$(du -s --block-size=1M "$src" | cut -f1)
	mib=$((mib + mib / 8 + 32))
	[ "$mib" -ge "$min" ] || mib=$min
	inodes=$(($(find "$src" | wc -l) + 4096))
	rm -f "$img"
	truncate -s "${mib}M" "$img"
	mke2fs -q -F -t ext4 -O ^has_journal -b 4096 -I 256 -N "$inodes" \
		-m 0 -L "$label" -d "$src" "$img" ||
		die "mke2fs -d $src into $img failed"
}

# images RUN_DIR: payload.img and results.img for one boot.
images() {
	local run=$1 t0 root stage_dir res f ko
	[ -e "$run/run.env" ] || die "no $run/run.env (ci/vm.sh writes it before the images)"
	KVER='' KMODROOT='' TEST_DIR='' MM_SELFTESTS='' KCONFIG='' MOCKDMA_KO=''
	# shellcheck source=/dev/null
	. "$run/run.env"
	ensure_root
	# A shared lock while the root is read: keep_recent (another
	# checkout's run) removes only an entry nobody holds.
	exec 8> "$top/$key.lock"
	flock -s 8
	[ -e "$dir/.done" ] || die "payload root $key went away (another run pruned it): run again"
	t0=$(date +%s)
	root=$dir/root
	stage_dir=$(mktemp -d "$top/stage.XXXXXX")
	res=$(mktemp -d "$run/.results.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$stage_dir' '$res'" EXIT
	cp -al "$root/." "$stage_dir/"
	# pinlab's own files, where run.env names them.  workloads/ is found
	# from the programs' directory (userspace/lib/pinlab.c pl_workload,
	# consumers/fio_jobs.sh); the config is what mm_selftests reads.
	stage "$PINLAB_ROOT/ci/guest" "$stage_dir"
	stage "$TEST_DIR" "$stage_dir"
	stage "$(cd "$TEST_DIR/../.." && pwd)/workloads" "$stage_dir"
	stage "$KMODROOT/lib/modules/$KVER" "$stage_dir"
	[ -z "$KCONFIG" ] || stage "$KCONFIG" "$stage_dir"
	[ -z "$MM_SELFTESTS" ] || stage "$MM_SELFTESTS" "$stage_dir"
	case $MOCKDMA_KO in /*) stage "$MOCKDMA_KO" "$stage_dir" ;; esac
	mkext4 "$stage_dir" pinlab-root "$run/payload.img"
	flock -u 8
	exec 8>&-

	# The results disk starts with what the host leaves in the results
	# directory for the guest; a relative MOCKDMA_KO lies under it.
	for f in run.env tests.list kernel.label kernel.profile kernel.policy \
		kernel.release kernel.observe guest.mode; do
		[ ! -e "$run/$f" ] || cp -a "$run/$f" "$res/"
	done
	case $MOCKDMA_KO in
	''|/*) ;;
	*) ko=$MOCKDMA_KO
		mkdir -p "$res/$(dirname "$ko")"
		cp -a "$run/$ko" "$res/$ko" ;;
	esac
	# 256 MiB of room: a make check run leaves under 1 MiB.
	mkext4 "$res" pinlab-results "$run/results.img" 256
	step "payload images in $(($(date +%s) - t0)) s: payload.img $(du -h --apparent-size "$run/payload.img" | cut -f1) ($(du -h "$run/payload.img" | cut -f1) on disk), results.img $(du -h --apparent-size "$run/results.img" | cut -f1)"
}

# collect RUN_DIR: the results disk's files into RUN_DIR (debugfs reads
# the image; lost+found is mke2fs's, not the guest's).
collect() {
	local run=$1 out
	[ -e "$run/results.img" ] || die "no $run/results.img to collect"
	out=$(mktemp -d "$run/.collect.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$out'" EXIT
	debugfs -R "rdump / $out" "$run/results.img" > "$out.log" 2>&1 ||
		{ cat "$out.log" >&2; rm -f "$out.log"; die "debugfs rdump of $run/results.img failed"; }
	rm -f "$out.log"
	# rdump of / writes the image's root entries straight into $out.
	rm -rf "$out/lost+found"
	[ -n "$(ls -A "$out")" ] || die "debugfs rdump of $run/results.img left nothing"
	cp -a "$out/." "$run/"
}

case ${1:-} in
root) ensure_root; echo "PAYLOAD_ROOT=$dir/root" ;;
images) [ -n "${2:-}" ] || die "usage: mkpayload.sh images RUN_DIR"; images "$2" ;;
collect) [ -n "${2:-}" ] || die "usage: mkpayload.sh collect RUN_DIR"; collect "$2" ;;
*) die "usage: mkpayload.sh root|images RUN_DIR|collect RUN_DIR" ;;
esac
