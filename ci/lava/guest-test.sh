#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-test.sh: the one step of the LAVA test definition "pinlab"
# (ci/lava/job.jinja2).  lava-test-shell runs it in the busybox shell that
# ci/guest/init leaves on the console in pinlab_mode=lava, with /host (the
# tree the tests run chrooted in) and the results directory /mnt/results
# (inside /host) already set up.  It lies in the initramfs at /pinlab/ci/,
# an overlay of the job's ramdisk, beside ci/report.py, ci/expected-splats,
# ci/allowed-skips and ci/lava/lava.py.
#
# It runs the same runner as the local harness (ci/guest/run-tests, from
# /host), judges the results directory with the same ci/report.py check,
# leaves that KTAP on the results disk as results.ktap and on the console,
# and reports every KTAP result as one LAVA test case (ci/lava/lava.py:
# the id mapping; lava-test-case ID --result pass|fail|skip).  A step that
# cannot run is a failed test case of its own, so a broken guest never
# reads as an empty pass.
set -u
H=/host R=/mnt/results
tools=/tmp/pinlab-lava
# The initramfs has no /tmp of its own.
mkdir -p /tmp

root=
for arg in $(cat /proc/cmdline); do
	case $arg in
	pinlab_root=*) root=${arg#pinlab_root=} ;;
	esac
done
if [ -z "$root" ] || [ ! -e "$H$root/ci/guest/run-tests" ]; then
	echo "pinlab-lava: no runner at $H$root/ci/guest/run-tests"
	lava-test-case pinlab-runner-present --result fail
	exit 0
fi

# The runner, chrooted as ci/guest/init runs it in check mode; its exit
# status is judged by the KTAP (setup.status), not here.
chroot $H /bin/bash "$root/ci/guest/run-tests" $R
echo "pinlab-lava: run-tests exited $?"

# The console check of report.py reads console.log, which the host writes
# from the serial line in a direct boot; here the kernel log left after the
# runner's last dmesg -c stands in (the console itself is in LAVA's log,
# ci/lava/lava.py console), so the check judges a log, not an absent file.
dmesg > "$H$R/console.log" 2>&1 || echo "pinlab-lava: dmesg failed"

# report.py and the mapping need python3, which is in /host only: copy the
# overlay's tools into the chroot's /tmp.
rm -rf "$H$tools" && mkdir -p "$H$tools" && cp -a /pinlab/ci "$H$tools/"
chroot $H python3 "$tools/ci/report.py" check $R > /tmp/pinlab.ktap
if ! grep -q '^TAP version' /tmp/pinlab.ktap; then
	echo "pinlab-lava: ci/report.py check wrote no KTAP"
	lava-test-case pinlab-report --result fail
	exit 0
fi
cp /tmp/pinlab.ktap "$H$R/results.ktap"
sync
echo "pinlab-lava: KTAP of $R"
cat /tmp/pinlab.ktap

if ! chroot $H python3 "$tools/ci/lava/lava.py" lava \
	< /tmp/pinlab.ktap > /tmp/pinlab.cases; then
	lava-test-case pinlab-case-ids --result fail
	exit 0
fi
while read -r id verdict; do
	lava-test-case "$id" --result "$verdict"
done < /tmp/pinlab.cases
echo "pinlab-lava: $(wc -l < /tmp/pinlab.cases) test cases reported"
