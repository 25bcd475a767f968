#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers for the ci/ scripts: where things live, progress lines with
# elapsed time, and idempotent installation of Debian packages.

PINLAB_ROOT=${PINLAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PINLAB_CACHE=${PINLAB_CACHE:-$HOME/.cache/pinlab}
PINLAB_RESULTS=${PINLAB_RESULTS:-$PINLAB_ROOT/results}
PINLAB_T0=${PINLAB_T0:-$(date +%s)}
export PINLAB_ROOT PINLAB_CACHE PINLAB_RESULTS PINLAB_T0

# Progress goes to stderr so that scripts can print results on stdout.
step() {
	printf '[pinlab +%4ss] %s\n' "$(($(date +%s) - PINLAB_T0))" "$*" >&2
}

die() {
	printf 'pinlab: error: %s\n' "$*" >&2
	exit 1
}

# apt-get update at most once a day: package lists are needed to resolve the
# newest kernel ABI, but a warm run should not wait for the mirror.
apt_refresh() {
	local stamp=/var/lib/apt/lists/partial/.pinlab-updated
	if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		step "apt-get update"
		apt-get update -qq >&2 || die "apt-get update failed"
		touch "$stamp" 2>/dev/null || true
	fi
}

# need_pkgs PKG...: install whichever of PKG are missing, saying which.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null |
			grep -qx installed || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
	apt_refresh
	step "installing Debian packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
}

# host_mirror: the Debian mirror the host already uses for bookworm (the
# first deb822 URIs: or one-line "deb" entry naming the suite bookworm), then
# deb.debian.org as a fallback; the first line is the one to use.  Shared by
# stock612's private apt state (ci/fetch-kernel.sh) and the guest payload
# (ci/mkpayload.sh): no mirror is configured twice.
host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk 'BEGIN { RS = ""; FS = "\n" }
		{ uri = ""; ok = 0
		  for (i = 1; i <= NF; i++) {
			if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
			if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok = 1
		  }
		  if (ok && uri != "") { print uri; exit } }' "$f"
	done
	{ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
		awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == "bookworm") { print $i; exit } }'
	echo http://deb.debian.org/debian
	return 0
}

# keep_recent TOP DIR: of the complete cache entries TOP/*/.done keep the
# two most recently used (and DIR, the one in use), drop the others that
# nobody holds a lock on (TOP/<key>.lock, taken by flock while an entry is
# built or read).
keep_recent() {
	local top=$1 keep=$2 d
	for d in $(ls -1dt "$top"/*/.done 2>/dev/null | tail -n +3); do
		d=${d%/.done}
		[ "$d" = "$keep" ] && continue
		if (flock -n 9 && rm -rf "$d" && rm -f "$d.lock") 9> "$d.lock"; then
			step "removed old cache entry $d"
		fi
	done
}
