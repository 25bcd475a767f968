#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh [stock|stock612]: make one of Debian's stock kernels usable
# by the harness without installing it on the host.
#
#   stock     the newest linux-image-6.1.0-N-amd64-unsigned of the host's
#             apt lists (bookworm), with linux-headers-6.1.0-N-{amd64,common}
#             and linux-kbuild-6.1
#   stock612  the newest linux-image-6.12.N+debV-amd64-unsigned of
#             bookworm-backports, with linux-headers-6.12.N+debV-{amd64,
#             common} and linux-kbuild-6.12.N+debV, resolved through a
#             private apt state under $PINLAB_CACHE/apt-backports (its own
#             sources.list naming the host's Debian mirror with the suite
#             bookworm-backports, its own lists/ and archives/): the host's
#             /etc/apt is never touched and its apt lists never see
#             backports
#
# The generic flavour in both cases: cloud lacks RDMA_RXE.  The packages are
# unpacked with dpkg-deb -x under $PINLAB_CACHE/<label>/<abi>_<version>/root.
# The extracted headers are made relocatable (their Makefile includes the
# common tree by absolute /usr/src path), depmod builds the missing
# modules.dep, and the uncompressed vmlinux is pulled out of the bzImage so
# QEMU can boot it through the PVH entry point (about twice as fast as the
# bzImage under TCG).
#
# Also unpacks the matching linux-source-6.1 (kselftest headers for the
# tests, checkpatch.pl, and the tree the patch series applies to); for
# stock612 KSRC is that same 6.1 tree (the tests and checks are built once,
# on the host).  FETCH_SOURCE612=1 also unpacks linux-source-6.12 (the code
# behind the 6.12 expectations) and prints it as KSRC612.
#
# Prints shell assignments on stdout: KVER, KDEBVER, KDIR (module build
# dir), KIMAGE (bootable image), KMODROOT (depmod -b root), KSRC (source
# tree).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_pkgs ca-certificates xz-utils zstd kmod binutils gcc-12 make libc6-dev \
	libelf-dev python3

label=${1:-stock}

# The private apt of stock612: bookworm-backports from the mirror the host
# already uses for bookworm (host_mirror, ci/lib.sh).
bpo=$PINLAB_CACHE/apt-backports
bpo_apt() {
	local tool=$1
	shift
	"$tool" -o Dir::Etc::SourceList="$bpo/etc/sources.list" \
		-o Dir::Etc::SourceParts="$bpo/etc/sources.list.d" \
		-o Dir::Etc::PreferencesParts="$bpo/etc/preferences.d" \
		-o Dir::State="$bpo/state" -o Dir::Cache="$bpo/cache" \
		-o APT::Sandbox::User=root "$@"
}
# apt-get update of the private state at most once a day (or when forced).
bpo_refresh() {
	local stamp=$bpo/state/.pinlab-updated mirror
	if [ "${1:-}" != force ] && [ -n "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		return 0
	fi
	mirror=$(host_mirror | awk 'NR == 1')
	mkdir -p "$bpo/etc/sources.list.d" "$bpo/etc/preferences.d" \
		"$bpo/state/lists/partial" "$bpo/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-backports main" \
		> "$bpo/etc/sources.list"
	step "apt-get update (private state $bpo: $mirror bookworm-backports)"
	bpo_apt apt-get update -qq >&2 || die "apt-get update of bookworm-backports failed"
	touch "$stamp"
}

# Newest ABI in the lists; never hard-coded, old ABIs vanish from the archive.
case $label in
stock)
	acache() { apt-cache "$@"; }
	aget() { apt-get "$@"; }
	refresh() {
		rm -f /var/lib/apt/lists/partial/.pinlab-updated
		apt_refresh
	}
	abi_re='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$'
	;;
stock612)
	need_pkgs debian-archive-keyring
	acache() { bpo_apt apt-cache "$@"; }
	aget() { bpo_apt apt-get "$@"; }
	refresh() { bpo_refresh force; }
	bpo_refresh
	abi_re='^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64-unsigned$'
	;;
*) die "fetch-kernel.sh: unknown kernel '$label' (stock|stock612)" ;;
esac
resolve_abi() {
	acache search --names-only "$abi_re" |
		awk '{print $1}' | sed -e 's/^linux-image-//' -e 's/-unsigned$//' |
		sort -V | tail -n 1
}

# fetch_source SERIES: the newest linux-source-SERIES this label's apt
# state knows (acache/aget), unpacked once under the cache; sets $src.
fetch_source() {
	local series=$1 srcversion
	srcversion=$(acache policy "linux-source-$series" | awk '/Candidate:/ {print $2}')
	src=$PINLAB_CACHE/src/linux-source-${series}_$srcversion
	[ -e "$src/.done" ] && return 0
	step "fetching linux-source-$series ($srcversion)"
	rm -rf "$src"
	mkdir -p "$src/deb"
	(cd "$src/deb" && aget download -qq "linux-source-$series=$srcversion" 2>&1 |
		grep -v '^W: Download is performed unsandboxed' >&2 || true)
	ls "$src"/deb/*.deb >/dev/null 2>&1 ||
		die "apt-get download of linux-source-$series failed"
	dpkg-deb --fsys-tarfile "$src"/deb/*.deb |
		tar -xO "./usr/src/linux-source-$series.tar.xz" |
		tar -xJ -C "$src" --strip-components=1
	rm -rf "$src/deb"
	touch "$src/.done"
}

abi=$(resolve_abi)
if [ -z "$abi" ]; then
	# Lists absent or stale: refresh once and retry.
	refresh
	abi=$(resolve_abi)
fi
[ -n "$abi" ] || die "no package matching $abi_re in the apt lists"
version=$(acache policy "linux-image-$abi-unsigned" |
	awk '/Candidate:/ {print $2}')
# linux-kbuild-6.1 for 6.1.0-N-amd64; linux-kbuild-6.12.N+debV for 6.12
case $label in
stock) kbuild=linux-kbuild-6.1 ;;
*) kbuild=linux-kbuild-${abi%-amd64} ;;
esac

dir=$PINLAB_CACHE/$label/${abi}_$version
root=$dir/root
if [ ! -e "$dir/.done" ]; then
	step "fetching Debian kernel $abi ($version)"
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$root"
	(cd "$dir/debs" && aget download -qq \
		"linux-image-$abi-unsigned=$version" \
		"linux-headers-$abi=$version" \
		"linux-headers-${abi%-amd64}-common=$version" \
		"$kbuild=$version" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	[ "$(ls "$dir"/debs/*.deb 2>/dev/null | wc -l)" = 4 ] ||
		die "apt-get download of $abi failed"
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

if [ "$label" = stock612 ]; then
	if [ "${FETCH_SOURCE612:-0}" = 1 ]; then
		fetch_source 6.12
		echo "KSRC612=$src"
	fi
	cat <<EOT
KVER=$abi
KDEBVER=$version
KDIR=$root/usr/src/linux-headers-$abi
KIMAGE=$dir/vmlinux
KMODROOT=$root
EOT
	exit 0
fi

fetch_source 6.1

cat <<EOT
KVER=$abi
KDEBVER=$version
KDIR=$root/usr/src/linux-headers-$abi
KIMAGE=$dir/vmlinux
KMODROOT=$root
KSRC=$src
EOT
