#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# memcg-run.sh MAX CMD [ARG...]: run CMD in a new cgroup v2 memory cgroup
# limited to MAX (memory.max syntax: 32M, 1G, ...), then print the group's
# reclaim counters (pgscan, pgsteal, workingset_refault_file, oom_kill) and
# remove it.  Exits with CMD's status.
set -euo pipefail
max=$1
shift
root=/sys/fs/cgroup
echo +memory > $root/cgroup.subtree_control
cg=$root/pinlab-memcg-$$
mkdir "$cg"
trap 'rmdir "$cg" 2>/dev/null || true' EXIT
echo "$max" > "$cg/memory.max"
status=0
bash -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' memcg-run "$cg" "$@" || status=$?
grep -E '^(pgscan|pgsteal|workingset_refault_file) ' "$cg/memory.stat" | sed 's/^/# memcg /'
grep -E '^oom_kill ' "$cg/memory.events" | sed 's/^/# memcg /'
exit $status
