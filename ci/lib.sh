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
