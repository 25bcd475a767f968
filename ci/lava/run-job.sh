#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-job.sh RUN_DIR KIMAGE INITRD APPEND DRIVE...: one boot of the suite as
# a LAVA job, run by lava-run on this machine with no server (ci/vm.sh
# RUN_DIR lava calls it where a direct boot would start QEMU; `make lava`).
#
# Renders the device configuration (ci/lava/device.jinja2 over lava-server's
# qemu.jinja2 and base.jinja2, with the job's context, as a server would)
# and the job (ci/lava/job.jinja2: KIMAGE with APPEND, INITRD as the ramdisk
# with LAVA's overlay and the tools tar, each DRIVE a raw virtio disk in
# that order), runs lava-run, and writes:
#   RUN_DIR/lava/{job,device}.yaml   what ran (with file:// urls)
#   RUN_DIR/lava/lava-run.log        lava-run's log (JSON lines)
#   RUN_DIR/lava/tools.tar           the /pinlab overlay of the ramdisk
#   RUN_DIR/lava-cases.txt           "ID VERDICT" per test case of the
#                                    pinlab definition (ci/lava/lava.py)
#   RUN_DIR/console.log              the guest's console, from the log
# Exit status: lava-run's; the verdict is the cases' (lava-run exits 0 and
# calls the job complete when test cases fail): ci/pinlab.sh lava gates on
# them.
#
# Environment: VM_MEM (MiB, default 2048), VM_TIMEOUT (s, default 3000: the
# test action's timeout), LAVA_SERVE=1 (the artifacts over http from
# 127.0.0.1, the disks gzip'ed, instead of file:// urls), LAVA_JOB_ID
# (default: from the clock; lava-run's scratch is
# /var/lib/lava/dispatcher/tmp/<id>, removed when the job ends).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

[ $# -ge 4 ] || die "usage: run-job.sh RUN_DIR KIMAGE INITRD APPEND DRIVE..."
run=$1 kimage=$2 initrd=$3 append=$4
shift 4
for f in "$kimage" "$initrd" "$@"; do
	[ -e "$f" ] || die "run-job.sh: no such file: $f"
done
need_pkgs lava-dispatcher cpio python3-jinja2 python3-yaml
# Debian's python3, whose jinja2 and yaml lava-dispatcher brings: not
# whichever python3 comes first in PATH.
py=/usr/bin/python3
lava=$PINLAB_ROOT/ci/lava
work=$run/lava
rm -rf "$work"
mkdir -p "$work"

# lava-server's device-type templates, of the lava-dispatcher version
# installed: the package is downloaded and unpacked, never installed or
# configured.
ver=$(dpkg-query -W -f='${Version}' lava-dispatcher)
types=$PINLAB_CACHE/lava-server/$ver/device-types
if [ ! -e "$types/qemu.jinja2" ]; then
	step "fetching lava-server $ver's device-type templates"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq "lava-server=$ver" 2>&1 |
		grep -v '^W: Download is performed unsandboxed' >&2 || true)
	deb=$(ls "$tmp"/lava-server_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || die "apt-get download lava-server=$ver failed"
	dpkg-deb -x "$deb" "$tmp/x"
	mkdir -p "$types"
	cp "$tmp"/x/usr/share/lava-server/device-types/{qemu,base}.jinja2 "$types/"
	rm -rf "$tmp"
	trap - EXIT
fi

# The tools the test definition runs in the guest, at /pinlab/ci/.
tar -C "$PINLAB_ROOT" -cf "$work/tools.tar" ci/report.py ci/expected-splats \
	ci/allowed-skips ci/lava/lava.py ci/lava/guest-test.sh

# The artifacts, as the job names them: file:// urls of the files where
# they are, or under LAVA_SERVE=1 copies in RUN_DIR/lava/artifacts (the
# disks gzip'ed, as a lab would store them) served over http from
# 127.0.0.1 for the time of the job: the path a lab's job takes
# (download, decompress) on this machine.
base= server=
if [ "${LAVA_SERVE:-0}" = 1 ]; then
	art=$work/artifacts
	mkdir -p "$art"
	cp "$kimage" "$initrd" "$work/tools.tar" "$art/"
	for d in "$@"; do
		gzip -1 -c "$d" > "$art/$(basename "$d").gz"
	done
	port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	$py -m http.server --bind 127.0.0.1 --directory "$art" "$port" \
		> "$work/http.log" 2>&1 &
	server=$!
	trap 'kill "$server" 2>/dev/null || true' EXIT
	base=http://127.0.0.1:$port
	for _ in $(seq 50); do
		$py -c "import urllib.request; urllib.request.urlopen('$base/tools.tar')" \
			2>/dev/null && break
		sleep 0.1
	done
	step "serving the job's artifacts at $base ($(du -sh "$art" | cut -f1))"
fi

label=$(cat "$run/kernel.label")
profile=$(cat "$run/kernel.profile" 2>/dev/null || true)
tests=$(sed -n "s/^TESTS='\(.*\)'$/\1/p" "$run/run.env" | xargs)
minutes=$(( (${VM_TIMEOUT:-3000} + 59) / 60 ))
$py - "$work/vars.json" "$label${profile:++$profile}: $tests" "$base" "$kimage" \
	"$append" "$initrd" "$work/tools.tar" "${VM_MEM:-2048}" "$minutes" "$@" <<'EOF'
import json, os, sys
out, name, base, kimage, append, initrd, tools, mem, minutes = sys.argv[1:10]
disks = sys.argv[10:]


def url(path, suffix=""):
    if base:
        return f"{base}/{os.path.basename(path)}{suffix}"
    return "file://" + os.path.abspath(path)


# The same CPU, SMP, machine and reset behaviour as ci/vm.sh's QEMU.
opts = ["-cpu max", "-smp 2", "-machine pc", "-accel tcg,thread=multi", "-no-reboot"]
# Each disk is labelled by its file name (ext4.img: "ext4").
drives = [{"label": os.path.basename(p).split(".")[0],
           "url": url(p, ".gz" if base else ""),
           "compression": "gz" if base else None} for p in disks]
if len({d["label"] for d in drives}) != len(drives):
    sys.exit("run-job.sh: two disks of one name: %s" % " ".join(disks))
json.dump({"job_name": "pinlab " + name, "kernel_url": url(kimage),
           "append": append, "ramdisk_url": url(initrd), "tools_url": url(tools),
           "drives": drives, "memory": int(mem), "extra_options": opts,
           "boot_minutes": 5, "test_minutes": int(minutes)}, open(out, "w"), indent=1)
EOF
$py "$lava/lava.py" job "$lava/job.jinja2" "$work/vars.json" > "$work/job.yaml"
$py "$lava/lava.py" device "$lava/device.jinja2" "$work/job.yaml" "$types" \
	> "$work/device.yaml"

# lava-run keeps a job's scratch files under a directory named by its id:
# two jobs started in the same second (two make lava runs) must not share
# one.
id=${LAVA_JOB_ID:-$(( $(date +%s) * 100000 + $$ % 100000 ))}
step "lava-run job $id: $label${profile:++$profile}"
set +e
timeout -k 10 $(( ${VM_TIMEOUT:-3000} + 900 )) lava-run --job-id "$id" \
	--output-dir "$work/out" --device "$work/device.yaml" \
	--dispatcher "$lava/dispatcher.yaml" "$work/job.yaml" < /dev/null 2>&1 |
	tee "$work/lava-run.log" |
	sed -u -n 's/.*"lvl": "target", "msg": "pinlab-guest: \(.*\)"}$/  lava guest: \1/p' >&2
status=${PIPESTATUS[0]}
set -e
$py "$lava/lava.py" console "$work/lava-run.log" > "$run/console.log"
$py "$lava/lava.py" results "$work/lava-run.log" pinlab > "$run/lava-cases.txt"
result=$(sed -n 's/^result: //p' "$work/out/result.yaml" 2>/dev/null || true)
step "lava-run exited $status, job result ${result:-none} (neither is the verdict);" \
	"$(wc -l < "$run/lava-cases.txt") test cases of the pinlab definition"
exit "$status"
