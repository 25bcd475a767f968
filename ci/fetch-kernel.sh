#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh: make Debian's newest stock 6.1 kernel usable by the
# harness without installing it on the host.
#
# Resolves the newest linux-image-6.1.0-N-amd64-unsigned in the apt lists
# (the generic flavour: cloud lacks RDMA_RXE), downloads it with its
# linux-headers-6.1.0-N-{amd64,common} and linux-kbuild-6.1, and unpacks them
# with dpkg-deb -x under $PINLAB_CACHE/stock/<abi>_<version>/root.  The
# extracted headers are made relocatable (their Makefile includes the common
# tree by absolute /usr/src path), depmod builds the missing modules.dep, and
# the uncompressed vmlinux is pulled out of the bzImage so QEMU can boot it
# through the PVH entry point (about twice as fast as the bzImage under TCG).
#
# Also unpacks the matching linux-source-6.1 (kselftest headers for the
# tests, checkpatch.pl, and later the tree the patch series applies to).
#
# Prints shell assignments on stdout: KVER, KDIR (module build dir),
# KIMAGE (bootable image), KMODROOT (depmod -b root), KSRC (source tree).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_pkgs ca-certificates xz-utils kmod binutils gcc-12 make libc6-dev \
	libelf-dev python3

# Newest ABI in the lists; never hard-coded, old ABIs vanish from the archive.
resolve_abi() {
	apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
		awk '{print $1}' | sed -e 's/^linux-image-//' -e 's/-unsigned$//' |
		sort -V | tail -n 1
}

abi=$(resolve_abi)
if [ -z "$abi" ]; then
	# Lists absent or stale: refresh once and retry.
	rm -f /var/lib/apt/lists/partial/.pinlab-updated
	apt_refresh
	abi=$(resolve_abi)
fi
[ -n "$abi" ] || die "no linux-image-6.1.0-*-amd64-unsigned in the apt lists"
version=$(apt-cache policy "linux-image-$abi-unsigned" |
	awk '/Candidate:/ {print $2}')
srcversion=$(apt-cache policy linux-source-6.1 | awk '/Candidate:/ {print $2}')

dir=$PINLAB_CACHE/stock/${abi}_$version
root=$dir/root
if [ ! -e "$dir/.done" ]; then
	step "fetching Debian kernel $abi ($version)"
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$root"
	(cd "$dir/debs" && apt-get download -qq \
		"linux-image-$abi-unsigned=$version" \
		"linux-headers-$abi=$version" \
		"linux-headers-${abi%-amd64}-common=$version" \
		"linux-kbuild-6.1=$version" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	ls "$dir"/debs/*.deb >/dev/null 2>&1 || die "apt-get download of $abi failed"
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	rm -rf "$dir/debs"
	sed -i "s|^include /usr/src/|include $root/usr/src/|" \
		"$root/usr/src/linux-headers-$abi/Makefile"
	depmod -b "$root" "$abi"
	step "extracting vmlinux for a PVH boot"
	python3 "$PINLAB_ROOT/ci/extract-vmlinux.py" \
		"$root/boot/vmlinuz-$abi" "$dir/vmlinux" ||
		cp "$root/boot/vmlinuz-$abi" "$dir/vmlinux"
	touch "$dir/.done"
fi

src=$PINLAB_CACHE/src/linux-source-6.1_$srcversion
if [ ! -e "$src/.done" ]; then
	step "fetching linux-source-6.1 ($srcversion)"
	rm -rf "$src"
	mkdir -p "$src/deb"
	(cd "$src/deb" && apt-get download -qq "linux-source-6.1=$srcversion" 2>&1 |
		grep -v '^W: Download is performed unsandboxed' >&2 || true)
	ls "$src"/deb/*.deb >/dev/null 2>&1 || die "apt-get download of linux-source-6.1 failed"
	dpkg-deb --fsys-tarfile "$src"/deb/*.deb |
		tar -xO ./usr/src/linux-source-6.1.tar.xz |
		tar -xJ -C "$src" --strip-components=1
	rm -rf "$src/deb"
	touch "$src/.done"
fi

cat <<EOT
KVER=$abi
KDEBVER=$version
KDIR=$root/usr/src/linux-headers-$abi
KIMAGE=$dir/vmlinux
KMODROOT=$root
KSRC=$src
EOT
