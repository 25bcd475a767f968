#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# boot-series-prefixes.sh: bisectability of patches/: for each prefix of
# patches/series (the first 1, 2, ... N-1 patches; N is what `make check`
# boots), build the patched kernel with only those patches, boot it and run
# programs that expect nothing of the series (default: bad_input lifecycle
# dma_roundtrip; override with TESTS=...; PREFIXES="2 3" runs only those
# prefixes).  Each prefix runs in a clone of
# the committed checkout, sharing $PINLAB_CACHE, so ccache makes every
# prefix after the first cheap unless it changes a widely included header.
#
# Prints one line per prefix; exit status 1 if any prefix fails to build,
# boot or pass.  Not part of `make check` (a near-full kernel build per
# header-changing patch); run it before sending the series.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

tests=${TESTS:-bad_input lifecycle dma_roundtrip}
mapfile -t patches < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' \
	"$PINLAB_ROOT/patches/series")
total=${#patches[@]}
[ "$total" -gt 1 ] || die "patches/series has fewer than two patches"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bad=0

prefixes=${PREFIXES:-$(seq 1 $((total - 1)))}
for n in $prefixes; do
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -lt "$total" ] ||
		die "PREFIXES: $n is not a prefix length in 1..$((total - 1))"
	tree=$work/prefix-$n
	git clone -q "$PINLAB_ROOT" "$tree" || die "cannot clone $PINLAB_ROOT"
	printf '%s\n' "${patches[@]:0:n}" > "$tree/patches/series"
	step "prefix $n/$total: ${patches[n - 1]}"
	t0=$SECONDS
	# The clone is its own PINLAB_ROOT (lib.sh exported ours).
	# PINLAB_SERIES_PREFIX: a prefix without the patch that adds the
	# series' pin gauge (vmstat dma_pin_park, dma_pin_unpark) is not
	# required to have it by ci/report.py; any other is.
	first=("${patches[@]:0:n}")
	prefix=
	grep -q 'dma_pin_park' "${first[@]/#/$PINLAB_ROOT/patches/}" || prefix="$n/$total"
	(cd "$tree" && env -u PINLAB_ROOT -u PINLAB_RESULTS -u PINLAB_T0 \
		PINLAB_SERIES_PREFIX="$prefix" \
		make check KERNELS=patched TESTS="$tests") \
		> "$work/prefix-$n.log" 2>&1
	rc=$?
	summary=$(tail -n 3 "$work/prefix-$n.log" | grep -E '^[0-9]+ passed' || echo "no summary")
	# "... + N patches" when built, "is cached (N patches)" when not
	applied=$(grep -oE '(\+ |cached \()[0-9]+ patch' "$work/prefix-$n.log" |
		grep -oE '[0-9]+' | head -n 1)
	echo "prefix $n ($((SECONDS - t0)) s): $applied patches applied, rc $rc, $summary"
	[ "$applied" = "$n" ] || rc=1
	if [ $rc != 0 ]; then
		bad=1
		tail -n 20 "$work/prefix-$n.log" | sed 's/^/  /'
	fi
	rm -rf "$tree"
done
exit $bad
