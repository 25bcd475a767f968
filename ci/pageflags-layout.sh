#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pageflags-layout.sh [PATCHDIR]: check that the series adds no page flag
# and changes no field of page->flags on Debian's own amd64 config.
#
# Two trees of the linux-source-6.1 the harness unpacks ($KSRC): base (no
# patches) and patched (PATCHDIR/series applied, default patches/).  Each is
# configured out of tree with the stock kernel's /boot/config-* (patched:
# plus ci/kernel/series.config, the series' own option, which Debian's
# config lacks), `make olddefconfig` and `make prepare0` (the smallest
# target that generates include/generated/bounds.h).  A tiny external
# module is then compiled to assembly against each, the way kernel/bounds.c
# is, and the layout constants are read back from the .s: NR_PAGEFLAGS,
# MAX_NR_ZONES, ZONES_WIDTH, LRU_GEN_WIDTH, LRU_REFS_WIDTH, SECTIONS_WIDTH,
# NODES_WIDTH, LAST_CPUPID_WIDTH, KASAN_TAG_WIDTH and the bits left over.
#
# Prints one line with both sides' numbers on stdout (three with the
# differences when they differ; progress on stderr);
# exit 0 when every constant of patched equals base's, 1 otherwise.
#
# Each side's constants are cached in $PINLAB_CACHE/layout/<key>/values,
# key = sha256 of the side, the source version, the stock config, each
# patch's name and contents (patched), series.config, the mutation, the
# compiler and this script: a warm run builds nothing.  MUTATE=add-page-flag
# (ci/mutations) appends a throw-away patch adding an enum pageflags value
# to the patched side; the check must then fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pdir=$(cd "${1:-$PINLAB_ROOT/patches}" && pwd)
seriescfg=$PINLAB_ROOT/ci/kernel/series.config
mutant=
[ "${MUTATE:-}" = add-page-flag ] && mutant=add-page-flag

need_pkgs build-essential gcc-12 make bc flex bison libelf-dev libssl-dev \
	ccache patch
if [ -z "${KSRC:-}" ] || [ -z "${KMODROOT:-}" ] || [ -z "${KVER:-}" ]; then
	eval "$("$PINLAB_ROOT/ci/fetch-kernel.sh")"
fi
[ -e "$KSRC/.done" ] || die "no unpacked linux-source in $KSRC"
config=$KMODROOT/boot/config-$KVER
[ -f "$config" ] || die "no Debian config $config (ci/fetch-kernel.sh)"
srcname=$(basename "$KSRC")

patches=()
if [ -e "$pdir/series" ]; then
	while read -r p _; do
		[ -n "$p" ] && patches+=("$p")
	done < <(sed -e 's/#.*//' "$pdir/series")
fi
for p in ${patches[@]+"${patches[@]}"}; do
	[ -f "$pdir/$p" ] || die "$pdir/series names $p, which is not in $pdir"
done

top=$PINLAB_CACHE/layout
mkdir -p "$top"
export CCACHE_DIR=$PINLAB_CACHE/ccache CCACHE_NOHASHDIR=1

# The probe: every layout constant as an asm string "->NAME $VALUE", as
# kernel/bounds.c emits NR_PAGEFLAGS.  FREE_BITS is what page->flags has
# left; it is not used by the kernel, only reported.
probe_c() {
	cat <<'EOF'
// SPDX-License-Identifier: GPL-2.0
#include <linux/kbuild.h>
#include <linux/minmax.h>
#include <linux/mmzone.h>
#include <linux/page-flags-layout.h>

int main(void);

int main(void)
{
	DEFINE(NR_PAGEFLAGS, NR_PAGEFLAGS);
	DEFINE(MAX_NR_ZONES, MAX_NR_ZONES);
	DEFINE(ZONES_WIDTH, ZONES_WIDTH);
	DEFINE(LRU_GEN_WIDTH, LRU_GEN_WIDTH);
	DEFINE(LRU_REFS_WIDTH, LRU_REFS_WIDTH);
	DEFINE(SECTIONS_WIDTH, SECTIONS_WIDTH);
	DEFINE(NODES_WIDTH, NODES_WIDTH);
	DEFINE(LAST_CPUPID_WIDTH, LAST_CPUPID_WIDTH);
	DEFINE(KASAN_TAG_WIDTH, KASAN_TAG_WIDTH);
	DEFINE(FREE_BITS, BITS_PER_LONG - NR_PAGEFLAGS - ZONES_WIDTH -
	       LRU_GEN_WIDTH - LRU_REFS_WIDTH - SECTIONS_WIDTH - NODES_WIDTH -
	       LAST_CPUPID_WIDTH - KASAN_TAG_WIDTH);
	return 0;
}
EOF
}
fields="NR_PAGEFLAGS MAX_NR_ZONES ZONES_WIDTH LRU_GEN_WIDTH LRU_REFS_WIDTH
	SECTIONS_WIDTH NODES_WIDTH LAST_CPUPID_WIDTH KASAN_TAG_WIDTH FREE_BITS"

# The throw-away patch of MUTATE=add-page-flag, made against the patched
# tree: one enum pageflags value before __NR_PAGEFLAGS.
mutant_patch() {
	local src=$1 f=include/linux/page-flags.h tmp
	tmp=$(mktemp -d)
	mkdir -p "$tmp/a/${f%/*}" "$tmp/b/${f%/*}"
	cp "$src/$f" "$tmp/a/$f"
	sed '/^\t__NR_PAGEFLAGS,/i\	PG_pinlab_mutant,\t/* ci/mutations: add-page-flag */' \
		"$src/$f" > "$tmp/b/$f"
	(cd "$tmp" && diff -u "a/$f" "b/$f") || true
	rm -rf "$tmp"
}

side_key() {
	{
		echo "layout $1 $srcname"
		echo "config $(sha256sum < "$config" | cut -d' ' -f1)"
		if [ "$1" = patched ]; then
			for p in ${patches[@]+"${patches[@]}"}; do
				echo "patch $p $(sha256sum < "$pdir/$p" | cut -d' ' -f1)"
			done
			echo "series.config $(sha256sum < "$seriescfg" | cut -d' ' -f1)"
			echo "mutant $mutant"
		fi
		gcc --version | head -n 1
		echo "script $(sha256sum < "$0" | cut -d' ' -f1)"
	} | sha256sum | cut -c1-16
}

# evaluate SIDE DIR: configure and prepare SIDE in DIR/work, compile the
# probe, write DIR/values ("NAME VALUE" lines).  Make output: DIR/build.log.
evaluate() {
	local side=$1 dir=$2 work=$2/work src=$KSRC log=$2/build.log
	local files f p line sym bad=0
	rm -rf "$work" "$log"
	mkdir -p "$work/obj" "$work/probe"
	kmake() {
		nice make -C "$src" O="$work/obj" ARCH=x86_64 CC="ccache gcc" \
			HOSTCC="ccache gcc" "$@" >> "$log" 2>&1 ||
			{ tail -n 20 "$log" >&2; die "$side: make $* failed (see $log)"; }
	}
	if [ "$side" = patched ]; then
		# A hard-linked copy of the source; every file a patch touches
		# is unshared first, so $KSRC itself is never written.
		src=$work/src
		step "layout: linking $srcname for the patched side"
		cp -al "$KSRC" "$src"
		rm -f "$src/.done"
		files=$(cat ${patches[@]+"${patches[@]/#/$pdir/}"} /dev/null |
			sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' | sort -u)
		[ -n "$mutant" ] && files+=" include/linux/page-flags.h"
		for f in $files; do
			[ -e "$src/$f" ] || continue
			cp -p "$src/$f" "$src/$f.unshare" && mv "$src/$f.unshare" "$src/$f"
		done
		for p in ${patches[@]+"${patches[@]}"}; do
			patch -d "$src" -p1 --forward --batch --fuzz=0 \
				--no-backup-if-mismatch < "$pdir/$p" >> "$log" 2>&1 ||
				{ tail -n 20 "$log" >&2; die "$p does not apply to $srcname"; }
		done
		if [ -n "$mutant" ]; then
			f=include/linux/page-flags.h
			mutant_patch "$src" > "$work/mutant.patch"
			grep -q '^+.*PG_pinlab_mutant' "$work/mutant.patch" ||
				die "MUTATE=add-page-flag: no __NR_PAGEFLAGS in $f"
			patch -d "$src" -p1 --batch --fuzz=0 < "$work/mutant.patch" \
				>> "$log" 2>&1 || die "MUTATE=add-page-flag: patch failed"
		fi
		for f in $files; do
			[ ! -e "$KSRC/$f" ] || [ "$(stat -c %h "$src/$f")" = 1 ] ||
				die "layout: $f is still shared with $KSRC"
		done
	fi
	cp "$config" "$work/obj/.config"
	[ "$side" = patched ] && grep '^CONFIG_' "$seriescfg" >> "$work/obj/.config"
	step "layout: $side: olddefconfig and prepare0 (Debian $KVER config)"
	kmake olddefconfig
	if [ "$side" = patched ]; then
		while IFS= read -r line; do
			grep -qxF -- "$line" "$work/obj/.config" && continue
			sym=${line%%=*}
			echo "  asked $line, got: $(grep -E "^(# )?${sym}[= ]" "$work/obj/.config" || echo "$sym absent")" >&2
			bad=1
		done < <(grep '^CONFIG_' "$seriescfg")
		[ $bad = 0 ] || die "layout: ci/kernel/series.config did not survive olddefconfig on Debian's config"
	fi
	kmake -j2 prepare0
	probe_c > "$work/probe/pinlab_layout.c"
	echo 'obj-m := pinlab_layout.o' > "$work/probe/Kbuild"
	nice make -C "$work/obj" M="$work/probe" CC="ccache gcc" \
		pinlab_layout.s >> "$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; die "$side: the layout probe does not compile (see $log)"; }
	sed -n 's/^[[:space:]]*\.ascii "->\([A-Z_]*\) \$\{0,1\}\(-\{0,1\}[0-9]*\) .*/\1 \2/p' \
		"$work/probe/pinlab_layout.s" > "$dir/values.new"
	for f in $fields; do
		grep -q "^$f -\{0,1\}[0-9][0-9]*$" "$dir/values.new" ||
			die "$side: no $f in the probe's assembly ($work/probe/pinlab_layout.s)"
	done
	mv "$dir/values.new" "$dir/values"
	rm -rf "$work"
}

# values SIDE: path of SIDE's cached constants, evaluated if absent.
values() {
	local side=$1 key dir t0
	key=$(side_key "$side")
	dir=$top/$key
	mkdir -p "$dir"
	exec 8> "$dir.lock"
	flock 8
	if [ -e "$dir/values" ]; then
		step "layout: $side $key is cached"
	else
		t0=$(date +%s)
		step "layout: evaluating $side $key"
		# A failed evaluation keeps its build.log, not its trees.
		trap 'rm -rf "$dir/work"' EXIT
		evaluate "$side" "$dir"
		trap - EXIT
		step "layout: $side $key evaluated in $(($(date +%s) - t0)) s"
	fi
	touch "$dir/values"
	exec 8>&-
	echo "$dir/values"
}

vb=$(values base)
vp=$(values patched)

# Cached constants not used for 30 days go.
find "$top" -mindepth 2 -maxdepth 2 -name values -mtime +30 2>/dev/null |
	while read -r v; do rm -rf "${v%/values}" "${v%/values}.lock"; done

line() {
	local f out=
	for f in $fields; do
		out+=" $f=$(awk -v f="$f" '$1 == f {print $2}' "$1")"
	done
	echo "${out# }"
}
diffs=
for f in $fields; do
	b=$(awk -v f="$f" '$1 == f {print $2}' "$vb")
	p=$(awk -v f="$f" '$1 == f {print $2}' "$vp")
	[ "$b" = "$p" ] || diffs+=" $f: base $b, patched $p;"
done
n=${#patches[@]}
n="$n patches"
[ -n "$mutant" ] && n+=" + the add-page-flag mutant"
head="Debian $KVER config, $srcname, 64-bit page->flags: base $(line "$vb")"
if [ -z "$diffs" ]; then
	echo "$head; patched ($n, ci/kernel/series.config): the same"
	exit 0
fi
echo "$head"
echo "patched ($n, ci/kernel/series.config): $(line "$vp")"
echo "DIFFERS:${diffs%;}"
exit 1
