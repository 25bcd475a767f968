#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pagecache-hog.sh FILE MIB [PASSES]: fill the page cache of the calling
# memory cgroup by reading FILE (created with MIB MiB first if it is missing
# or smaller) PASSES times (default 1), dropping its cache before each pass
# so every pass faults it all in again.  Run inside a cgroup with a small
# memory.max this forces reclaim within the group; run at the root it
# pushes the whole guest towards global reclaim.
#
# Used by reclaim_pinned (mockdma) and the RDMA stress; exit 0 on success.
set -euo pipefail
file=$1 mib=$2 passes=${3:-1}

size=$(stat -c %s "$file" 2>/dev/null || echo 0)
if [ "$size" -lt $((mib << 20)) ]; then
	dd if=/dev/zero of="$file" bs=1M count="$mib" conv=fsync status=none
fi
for _ in $(seq "$passes"); do
	# POSIX_FADV_DONTNEED through dd's nocache flag: only clean pages go.
	dd if="$file" iflag=nocache count=0 status=none
	dd if="$file" of=/dev/null bs=1M status=none
done
