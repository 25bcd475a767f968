#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh KMODROOT KVER OUT: a minimal initramfs with busybox-static,
# the modules needed to mount the host over virtio 9p, and those to mount the
# guest payload's ext4 disk instead (ci/mkpayload.sh), in dependency order,
# resolved with modprobe --show-depends against the depmod'ed tree, and
# ci/guest/init.  Everything else comes from the host over 9p or from the
# payload disk.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kmodroot=$1 kver=$2 out=$3
need_pkgs busybox-static cpio kmod gzip xz-utils zstd

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,modules,host}
cp /bin/busybox "$work/bin/busybox"
install -m 0755 "$PINLAB_ROOT/ci/guest/init" "$work/init"

# add_modules LIST MOD...: MOD and its dependencies (softdeps too), in
# load order, copied into modules/ and named in modules/LIST; a module an
# earlier list already holds is left out (init loads the lists in turn).
add_modules() {
	local list=$work/modules/$1 mod ko name
	shift
	: > "$list"
	for mod in "$@"; do
		modprobe -d "$kmodroot" -S "$kver" --show-depends "$mod" |
			awk '$1 == "insmod" {print $2}'
	done | awk '!seen[$0]++' | while read -r ko; do
		# Debian's 6.12 ships xz-compressed modules; busybox insmod
		# wants them plain.
		name=$(basename "$ko")
		name=${name%.xz}
		name=${name%.zst}
		[ -e "$work/modules/$name" ] && continue
		case $ko in
		*.ko.xz) xz -dc "$ko" > "$work/modules/$name" ;;
		*.ko.zst) zstd -dcq "$ko" > "$work/modules/$name" ;;
		*) cp "$ko" "$work/modules/" ;;
		esac
		echo "$name" >> "$list"
	done
}
# load-order: always (the 9p guest); load-order.payload: the payload guest
# (pinlab_guest=payload) adds the disk and the filesystem of its root.
add_modules load-order virtio_pci 9pnet_virtio 9p
add_modules load-order.payload virtio_blk ext4
# Built-in on other configs (base, patched): an empty list is fine.

(cd "$work" && find . -print0 | cpio --null -o -H newc --quiet) |
	gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
