#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh [patched|base|debug|base-debug]: build a guest kernel from Debian's
# linux-source-6.1 (the tree ci/fetch-kernel.sh unpacks, $KSRC) for a PVH
# boot of its ELF vmlinux (debug: of its bzImage, see below):
#   patched  patches/series applied; ci/kernel/pinlab-guest.config +
#            ci/kernel/series.config (the series' own option)
#   base     the same source and pinlab-guest.config, no series: the
#            same-config baseline, so base vs patched is the series alone
#   debug    patched + ci/kernel/debug.config (KASAN, lockdep, kmemleak,
#            KFENCE, DEBUG_VM_PGFLAGS): the kernel of `make stress`.  Its
#            release string is patched's (the programs' expectations are
#            the series'); the cache key and /proc/config tell them apart.
#            It boots from bzImage: 6.1 with KASAN dies before its first
#            console line when entered through PVH (measured: QEMU exits
#            at once, no output), the Linux boot protocol works
#   base-debug  base + ci/kernel/debug.config, release string base's: the
#            same debug kernel without the series, so a splat make stress
#            reports on both debug builds is not the series'
# Two release strings for the four flavours (6.1.N-pinlab-base,
# 6.1.N-pinlab-patched): `uname -r` tells whether the booted kernel has
# the series, the cache key (identity.txt) which flavour it is.
#
# patches/series is quilt's format: one patch file name per line, relative to
# patches/, applied in order with `patch -p1 --forward --batch --fuzz=0`; '#'
# starts a comment, blank lines are ignored.  An absent or empty series builds the
# plain Debian source with our config.  Any patch that does not apply cleanly
# stops the build.
#
# The result is cached in $PINLAB_CACHE/<flavour>/<key>/, key = sha256 of the
# flavour, the source version, the series (each patch's name and contents, in
# order; none for base), the config fragments, this script and the compiler's
# version (mockdma.ko must be
# built with the kernel's compiler).  .done is written last; a key with .done
# is not rebuilt.  The newest two keys and any used in the last six hours
# are kept, older ones removed.
#   <key>/linux/    the built tree (KDIR: make -C <key>/linux M=... works)
#   <key>/modroot/  modules_install'ed and depmod'ed (KMODROOT)
#   <key>/build.log the whole build's output
# Compiles go through ccache ($PINLAB_CACHE/ccache, 5 GiB).
#
# Prints shell assignments on stdout like ci/fetch-kernel.sh: KVER, KDIR,
# KIMAGE, KMODROOT, KSRC (the patched source).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:-patched}
case $flavour in
patched|base|debug|base-debug) ;;
*) die "build-kernel.sh: unknown flavour '$flavour' (patched|base|debug|base-debug)" ;;
esac

need_pkgs build-essential gcc-12 make bc flex bison libelf-dev libssl-dev \
	ccache kmod python3 patch

if [ -z "${KSRC:-}" ]; then
	eval "$("$PINLAB_ROOT/ci/fetch-kernel.sh")"
fi
[ -e "$KSRC/.done" ] || die "no unpacked linux-source in $KSRC"
srcname=$(basename "$KSRC")
fragments=("$PINLAB_ROOT/ci/kernel/pinlab-guest.config")
# series: the flavour has patches/series; debug: the debug config.
series=1 debug=0
case $flavour in base|base-debug) series=0 ;; esac
case $flavour in debug|base-debug) debug=1 ;; esac
[ $series = 1 ] && fragments+=("$PINLAB_ROOT/ci/kernel/series.config")
[ $debug = 1 ] && fragments+=("$PINLAB_ROOT/ci/kernel/debug.config")
# The release string names the source and whether the series is in it.
release_suffix=-patched
[ $series = 1 ] || release_suffix=-base
pdir=$PINLAB_ROOT/patches

# The series, in order: comments and blank lines dropped.
patches=()
if [ $series = 1 ] && [ -e "$pdir/series" ]; then
	while read -r p _; do
		[ -n "$p" ] && patches+=("$p")
	done < <(sed -e 's/#.*//' "$pdir/series")
fi
for p in ${patches[@]+"${patches[@]}"}; do
	[ -f "$pdir/$p" ] || die "patches/series names $p, which is not in patches/"
done

key=$({
	echo "$flavour $srcname"
	for p in ${patches[@]+"${patches[@]}"}; do
		echo "patch $p $(sha256sum < "$pdir/$p" | cut -d' ' -f1)"
	done
	for f in "${fragments[@]}"; do
		echo "config $(basename "$f") $(sha256sum < "$f" | cut -d' ' -f1)"
	done
	gcc --version | head -n 1
	echo "script $(sha256sum < "$0" | cut -d' ' -f1)"
} | sha256sum | cut -c1-16)

top=$PINLAB_CACHE/$flavour
dir=$top/$key
tree=$dir/linux
mkdir -p "$top"
# One build per key at a time (two checkouts may share the cache).
exec 9> "$top/$key.lock"
flock 9

export CCACHE_DIR=$PINLAB_CACHE/ccache CCACHE_BASEDIR=$dir CCACHE_NOHASHDIR=1
kmake() {
	make -C "$tree" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" \
		LOCALVERSION="$release_suffix" \
		KBUILD_BUILD_USER=pinlab KBUILD_BUILD_HOST=pinlab "$@"
}

# check_config: every option the fragments set is set so in the final
# .config, and every "is not set" one is unset.
check_config() {
	local line sym bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$tree/.config" && continue
			sym=${line%%=*}
			echo "  asked $line, got: $(grep -E "^(# )?$sym[= ]" "$tree/.config" || echo "$sym absent")" >&2
			bad=1 ;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			grep -qE "^$sym=" "$tree/.config" || continue
			echo "  asked $line, got: $(grep -E "^$sym=" "$tree/.config")" >&2
			bad=1 ;;
		esac
	done < <(cat "${fragments[@]}")
	[ $bad = 0 ] || die "ci/kernel/*.config: the options above did not survive olddefconfig (missing dependencies?)"
}

# Progress every 60 s while make runs (a cold build takes a quarter hour or
# more).  Runs in the background with stdout on stderr (the caller reads stdout to
# its end) and takes its sleep along when killed.
ticker() {
	local log=$1 n last s
	trap 'kill $s 2>/dev/null; exit 0' TERM
	while :; do
		sleep 60 &
		s=$!
		wait $s
		n=$(grep -cE '^  (CC|LD|AR|AS)' "$log" 2>/dev/null || true)
		last=$(grep -E '^  [A-Z]+' "$log" 2>/dev/null | tail -n 1 | awk '{print $2}')
		step "building $flavour kernel $key: ${n:-0} objects so far (${last:-starting})"
	done
}

build() {
	local log=$dir/build.log tick
	rm -rf "$dir"
	mkdir -p "$dir"
	step "copying $srcname to $tree"
	cp -a "$KSRC" "$tree"
	rm -f "$tree/.done"
	for p in ${patches[@]+"${patches[@]}"}; do
		step "applying $p"
		patch -d "$tree" -p1 --forward --batch --fuzz=0 \
			--no-backup-if-mismatch < "$pdir/$p" >> "$log" 2>&1 ||
			{ tail -n 20 "$log" >&2; die "patches/$p does not apply to $srcname"; }
	done
	ccache --max-size=5G > /dev/null
	ccache --zero-stats > /dev/null

	local names=() f
	for f in "${fragments[@]}"; do
		cp "$f" "$tree/kernel/configs/"
		names+=("$(basename "$f")")
	done
	step "configuring: tinyconfig + kvm_guest.config + ${names[*]}"
	{ kmake tinyconfig && kmake kvm_guest.config "${names[@]}"; } \
		>> "$log" 2>&1 || { tail -n 20 "$log" >&2; die "kernel config failed (see $log)"; }
	check_config

	step "building vmlinux and modules (-j$(nproc); on 2 cores: 15+ min cold, 5+ with a warm ccache)"
	ticker "$log" >&2 &
	tick=$!
	local targets=(vmlinux modules)
	[ $debug = 1 ] && targets+=(bzImage)
	if ! kmake -j"$(nproc)" "${targets[@]}" >> "$log" 2>&1; then
		kill "$tick"
		grep -E 'error|Error' "$log" | head -n 20 >&2 || true
		tail -n 20 "$log" >&2
		die "kernel build failed (see $log)"
	fi
	kill "$tick"
	kmake -s INSTALL_MOD_PATH="$dir/modroot" modules_install >> "$log" 2>&1 ||
		die "modules_install failed (see $log)"
	kver=$(kmake -s --no-print-directory kernelrelease)
	depmod -b "$dir/modroot" "$kver"
	echo "$kver" > "$dir/kver"
	ccache --show-stats 2>/dev/null | grep -iE 'hits|misses' | sed 's/^/  ccache: /' >&2 || true
	touch "$dir/.done"
}

if [ -e "$dir/.done" ]; then
	step "$flavour kernel $key is cached (${#patches[@]} patches)"
	touch "$dir/.done"
else
	t0=$(date +%s)
	step "building $flavour kernel $key: $srcname + ${#patches[@]} patches"
	build
	step "$flavour kernel $key built in $(($(date +%s) - t0)) s"
fi
kver=$(cat "$dir/kver")
flock -u 9

# Keep the two most recently used complete builds and any used in the last
# six hours (another run may be booting it: ci/boot-series-prefixes.sh's
# builds beside a make check of the whole series); drop the others and any
# incomplete build nobody is working on.
for d in $(ls -1dt "$top"/*/.done 2>/dev/null | tail -n +3); do
	[ -n "$(find "$d" -mmin -360)" ] && continue
	d=${d%/.done}
	[ "$d" = "$dir" ] && continue
	step "removing old $flavour kernel $(basename "$d")"
	rm -rf "$d"
	rm -f "$d.lock"
done
for d in "$top"/*/; do
	d=${d%/}
	[ -e "$d/.done" ] || [ "$d" = "$dir" ] && continue
	(flock -n 9 && rm -rf "$d" && rm -f "$d.lock") 9> "$d.lock" || true
done

image=$tree/vmlinux
[ $debug = 1 ] && image=$tree/arch/x86/boot/bzImage
cat <<EOT
KVER=$kver
KDIR=$tree
KIMAGE=$image
KMODROOT=$dir/modroot
KSRC=$tree
EOT
