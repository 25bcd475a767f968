#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-mm-selftests.sh: build the kernel's own mm selftests
# (tools/testing/selftests/vm/ of Debian's linux-source-6.1, $KSRC as
# ci/fetch-kernel.sh unpacks it) on the host, against that tree's own uapi
# headers (`make headers_install`), for userspace/series/mm_selftests.sh to
# run in the guest.  The same binaries serve every kernel: the series does
# not touch tools/ or the uapi the selftests use, and base vs patched must
# compare the series, not two builds of the tests.
#
# Cached in $PINLAB_CACHE/mm-selftests/<key>/ (key = sha256 of the source
# version, this script, the compiler and the versions of the libraries the
# build links: libnuma, libcap); .done is written last and a key with it
# is reused; the newest two keys are kept.
#   <key>/usr/include  the installed uapi headers
#   <key>/vm/          the selftest binaries (OUTPUT= of the selftests make)
#   <key>/build.log    the build's output
#
# Prints MM_SELFTESTS=<key>/vm on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# ksm_tests and migration link libnuma, mlock-random-test and memfd_secret
# libcap; rsync is what the selftests' lib.mk copies scripts with.
need_pkgs build-essential gcc-12 make libnuma-dev libcap-dev rsync

if [ -z "${KSRC:-}" ]; then
	eval "$("$PINLAB_ROOT/ci/fetch-kernel.sh")"
fi
[ -e "$KSRC/.done" ] || die "no unpacked linux-source in $KSRC"

key=$({
	basename "$KSRC"
	echo "script $(sha256sum < "$0" | cut -d' ' -f1)"
	gcc --version | head -n 1
	dpkg-query -W -f='${Package} ${Version}\n' libnuma-dev libcap-dev libc6-dev
} | sha256sum | cut -c1-16)

top=$PINLAB_CACHE/mm-selftests
dir=$top/$key
mkdir -p "$top"
exec 9> "$top/$key.lock"
flock 9

build() {
	local log=$dir/build.log
	rm -rf "$dir"
	mkdir -p "$dir/obj" "$dir/vm"
	step "mm selftests: headers_install from $(basename "$KSRC")"
	# O= keeps the shared source tree untouched (scripts/unifdef and the
	# staging headers land in obj/).
	make -C "$KSRC" O="$dir/obj" ARCH=x86_64 \
		INSTALL_HDR_PATH="$dir/usr" headers_install >> "$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; die "headers_install failed (see $log)"; }
	step "mm selftests: building tools/testing/selftests/vm"
	# The 32-bit protection_keys needs gcc-multilib, which this harness
	# does not install (the 64-bit one is built); the Makefile says so.
	make -C "$KSRC/tools/testing/selftests/vm" -j"$(nproc)" \
		OUTPUT="$dir/vm" KHDR_INCLUDES="-isystem $dir/usr/include" \
		>> "$log" 2>&1 ||
		{ grep -E 'error' "$log" | head -n 20 >&2; die "mm selftests build failed (see $log)"; }
	rm -rf "$dir/obj"
	touch "$dir/.done"
}

if [ -e "$dir/.done" ]; then
	step "mm selftests $key are cached"
	touch "$dir/.done"
else
	t0=$(date +%s)
	build
	step "mm selftests $key built in $(($(date +%s) - t0)) s"
fi
flock -u 9

for d in $(ls -1dt "$top"/*/.done 2>/dev/null | tail -n +3); do
	d=${d%/.done}
	[ "$d" = "$dir" ] && continue
	rm -rf "$d"
	rm -f "$d.lock"
done

echo "MM_SELFTESTS=$dir/vm"
