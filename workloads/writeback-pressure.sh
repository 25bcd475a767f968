#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# writeback-pressure.sh DIR SECONDS [MIB]: keep the flusher busy for SECONDS.
# Lowers the dirty thresholds (vm.dirty_background_bytes 1 MiB,
# vm.dirty_bytes 4 MiB, expiry 1 s, flusher wake-up 0.1 s) so writeback runs
# all the time, then rewrites a MIB MiB file (default 8) in DIR and syncs it,
# with sync_file_range and fsync, in a loop.  The old sysctl values are put
# back on exit, however it exits.
#
# Used by the mockdma scenarios and the RDMA stress; exit 0 on success.
set -euo pipefail
dir=$1 seconds=$2 mib=${3:-8}
vm=/proc/sys/vm
knobs="dirty_background_bytes dirty_bytes dirty_expire_centisecs dirty_writeback_centisecs dirty_background_ratio dirty_ratio"
declare -A saved
for k in $knobs; do saved[$k]=$(cat $vm/$k); done
file=$dir/pinlab-wb-pressure-$$

restore() {
	rm -f "$file"
	# The *_bytes and *_ratio knobs exclude each other: writing the
	# non-zero one of each pair restores both.
	for k in dirty_expire_centisecs dirty_writeback_centisecs; do
		echo "${saved[$k]}" > $vm/$k
	done
	for pair in "dirty_background_bytes dirty_background_ratio" "dirty_bytes dirty_ratio"; do
		set -- $pair
		if [ "${saved[$1]}" != 0 ]; then
			echo "${saved[$1]}" > $vm/$1
		else
			echo "${saved[$2]}" > $vm/$2
		fi
	done
}
trap restore EXIT

echo $((1 << 20)) > $vm/dirty_background_bytes
echo $((4 << 20)) > $vm/dirty_bytes
echo 100 > $vm/dirty_expire_centisecs
echo 10 > $vm/dirty_writeback_centisecs

end=$((SECONDS + seconds))
while [ $SECONDS -lt "$end" ]; do
	dd if=/dev/urandom of="$file" bs=1M count="$mib" conv=notrunc status=none
	python3 - "$file" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.sync_file_range(fd, 0, 0, os.SYNC_FILE_RANGE_WRITE)
os.fsync(fd)
os.close(fd)
PY
done
