#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh KMODROOT KVER OUT: a minimal initramfs with busybox-static,
# the modules needed to mount the host over virtio 9p (in dependency order,
# resolved with modprobe --show-depends against the depmod'ed tree) and
# ci/guest/init.  Everything else comes from the host over 9p.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kmodroot=$1 kver=$2 out=$3
need_pkgs busybox-static cpio kmod gzip xz-utils zstd

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,modules,host}
cp /bin/busybox "$work/bin/busybox"
install -m 0755 "$PINLAB_ROOT/ci/guest/init" "$work/init"

: > "$work/modules/load-order"
for mod in virtio_pci 9pnet_virtio 9p; do
	modprobe -d "$kmodroot" -S "$kver" --show-depends "$mod" |
		awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
	# Debian's 6.12 ships xz-compressed modules; busybox insmod wants
	# them plain.
	case $ko in
	*.ko.xz) name=$(basename "$ko" .xz); xz -dc "$ko" > "$work/modules/$name" ;;
	*.ko.zst) name=$(basename "$ko" .zst); zstd -dcq "$ko" > "$work/modules/$name" ;;
	*) name=$(basename "$ko"); cp "$ko" "$work/modules/" ;;
	esac
	echo "$name" >> "$work/modules/load-order"
done
# virtio_pci may be built in on other configs: an empty list is fine.

(cd "$work" && find . -print0 | cpio --null -o -H newc --quiet) |
	gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
