#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fio_jobs: runs the fio workloads of workloads/fio/ in the guest with
# --output-format=json and turns each into a KTAP result and a "# MATRIX
# table=fio" row (kselftest exit codes: 0 pass, 1 fail, 4 skip).
#
# Stock 6.1 expectations:
# - uring_fixedbufs_anon on ext4 and xfs: runs, crc32c-verified, error 0.
# - uring_fixedbufs_mmapshared / _mmapprivate (I/O buffers mapped from a
#   file on ext4/xfs): io_uring_register_buffers() is refused by
#   io_uring/rsrc.c io_pin_pages() (vm_file neither shmem nor hugetlbfs) and
#   fio fails the job with err=95 (EOPNOTSUPP) in io_queue_init: asserted,
#   so that a silent fallback to unregistered buffers would fail here.
# - rdma_write_server/client (fio's rdma engine, rdma_cm, server buffers
#   mem=mmapshared:<file on ext4, then xfs>): the client's pattern is on
#   disk (O_DIRECT) after the server deregistered and sync ran.  Both ends
#   use one rxe device, rxe_fio, on one end of a veth pair with 10.99.0.1:
#   on 6.1 rdma_cm cannot connect to itself over rxe_lo (127.0.0.0/8 is an
#   "any" address to cma_any_addr(); cma_resolve_loopback() attaches a
#   device but binds no netdev, so rdma_resolve_route() fails with ENODEV
#   in cma_iboe_set_path_rec_l2_fields()).  A real address resolves to the
#   veth end (the route is local; ib_addr maps it back to the netdev that
#   owns it) and rxe hands packets for its own GID to its internal
#   loopback, so nothing leaves the guest.
#
# 6.12 (stock612) expectations (userspace/lib/pinlab.h,
# pl_kernel_refuses_longterm_file_write(): writable_file_mapping_allowed()
# in mm/gup.c, and io_uring's own vm_file check gone with it):
# - uring_fixedbufs_mmapshared: io_pin_pages()'s
#   pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM) fails in GUP: fio fails
#   the job with err=14 (EFAULT) in io_queue_init.
# - uring_fixedbufs_mmapprivate: registered (the COW copies are
#   anonymous): runs, crc32c-verified, error 0.
# - rdma: the server's ibv_reg_mr() of its MAP_SHARED file buffers fails
#   (ib_umem_get(): FOLL_LONGTERM | FOLL_WRITE, EFAULT; fio says
#   "ibv_reg_mr io_u failed: Bad address"), so nothing the client sends
#   reaches the file: the pattern is not on disk.
set -u
self=$(readlink -f "$0")
# Which kernel this is and whether it has the 6.5+ rule: pl_kernel()
# decides (build/pl_kernel, beside this program).
if ! kernel_facts=$("$(dirname "$self")/pl_kernel"); then
	echo "$kernel_facts"
	exit 1
fi
eval "$kernel_facts"
refuses_longterm_file_write() { [ "$PL_REFUSES_LONGTERM_FILE_WRITE" = 1 ]; }
W=${PINLAB_WORKLOADS:-$(dirname "$self")/../../workloads/fio}
EXT4=${PINLAB_EXT4:-/mnt/ext4}
XFS=${PINLAB_XFS:-/mnt/xfs}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"
if ! command -v fio >/dev/null || ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP fio or python3 missing"
	exit 4
fi
if [ ! -d "$W" ]; then
	echo "1..0 # SKIP no workloads directory $W"
	exit 4
fi
echo "1..9"
n=0 fails=0
result() {	# ok|fail|xfail DESCRIPTION [REASON]
	n=$((n + 1))
	case $1 in
	ok) echo "ok $n $2" ;;
	xfail) echo "ok $n $2 # XFAIL $3" ;;
	*) echo "not ok $n $2"; fails=$((fails + 1)) ;;
	esac
}

# json_fields FILE JOB: "error bw_MiB_s iops" of job JOB, writes or reads,
# whichever moved more bytes.
json_fields() {
	python3 - "$1" "$2" <<'PY'
import json, sys
try:
    text = open(sys.argv[1]).read()
    jobs = json.loads(text[text.index("{"):])["jobs"]
    job = next(j for j in jobs if j["jobname"] == sys.argv[2])
except Exception:
    print("nojson 0 0")
    sys.exit(0)
d = max(("read", "write"), key=lambda k: job[k]["io_bytes"])
print(job["error"], "%.2f" % (job[d]["bw"] / 1024.0), "%.0f" % job[d]["iops"])
PY
}

# run_fio NAME: fio on workloads/fio/NAME.fio; output in $tmp/NAME.*
run_fio() {
	local out=$tmp/$1 t0=$SECONDS
	# Not --output=: fio's "err=N/file:..., func=..." line for a failed
	# job only goes to stdout, ahead of the JSON.
	PINLAB_EXT4=$EXT4 PINLAB_XFS=$XFS timeout -k 5 90 fio \
		--output-format=json --aux-path="$tmp" "$W/$1.fio" \
		> "$out.json" 2> "$out.log"
	echo $? > "$out.rc"
	echo "# [INFO] $1: fio rc $(cat "$out.rc"), $((SECONDS - t0)) s"
	sed -n '/^{/q; /^fio: /p' "$out.json" | cat - "$out.log" |
		grep -v '^Jobs:' | sed 's/^/# /' | head -n 5
}

# job_fields NAME JOB: sets err, bw, iops (no process substitution: the
# guest has no /dev/fd).
job_fields() {
	local fields
	fields=$(json_fields "$tmp/$1.json" "$2")
	read -r err bw iops <<< "$fields"
}

# Both filesystems in one fio run each: fio starts slowly under TCG.
echo "# [RUN] uring_fixedbufs_anon on ext4 and xfs"
run_fio uring_fixedbufs_anon
for fs in ext4 xfs; do
	job_fields uring_fixedbufs_anon "uring-anon-$fs"
	res=ok
	[ "$err" = 0 ] && [ "$(cat "$tmp/uring_fixedbufs_anon.rc")" = 0 ] || res=fail
	echo "# MATRIX table=fio job=uring-fixedbufs-anon fs=$fs | result=$([ $res = ok ] && echo ok || echo "err=$err") bw_MiB_s=$bw iops=$iops"
	result $res "uring_fixedbufs_anon $fs: io_uring fixedbufs O_DIRECT, verified, error 0"
done
rm -f "$EXT4/fio-uring-anon" "$XFS/fio-uring-anon"

# fio does not size an iomem=mmapshared:<file>: pre-size it.
truncate -s 8M "$EXT4/fio-iomem-shared.buf" "$XFS/fio-iomem-shared.buf"
for kind in mmapshared mmapprivate; do
	echo "# [RUN] uring_fixedbufs_$kind on ext4 and xfs"
	run_fio "uring_fixedbufs_$kind"
	for fs in ext4 xfs; do
		job_fields "uring_fixedbufs_$kind" "uring-$kind-$fs"
		res=fail
		want=95 what="refused with err=95 (EOPNOTSUPP) at io_queue_init"
		if refuses_longterm_file_write; then
			want=14 what="refused with err=14 (EFAULT) at io_queue_init"
			[ $kind = mmapprivate ] && want=0 \
				what="registered, io_uring fixedbufs O_DIRECT, verified, error 0"
		fi
		# fio's own message names the failing step
		if [ "$want" = 0 ]; then
			[ "$err" = 0 ] && [ "$(cat "$tmp/uring_fixedbufs_$kind.rc")" = 0 ] &&
				res=ok
		else
			[ "$err" = "$want" ] && grep -q "err=$want/.*func=io_queue_init" \
				"$tmp/uring_fixedbufs_$kind.log" "$tmp/uring_fixedbufs_$kind.json" &&
				res=ok
		fi
		echo "# MATRIX table=fio job=uring-fixedbufs-$kind fs=$fs | result=$([ "$err" = 0 ] && echo ok || echo "err=$err") bw_MiB_s=$bw iops=$iops"
		result $res "uring_fixedbufs_$kind $fs: $what"
	done
done
rm -f "$EXT4"/fio-iomem-*.buf "$XFS"/fio-iomem-*.buf "$EXT4"/fio-uring-mmap* \
	"$XFS"/fio-uring-mmap*

# fio's rdma engine: server (rw=read, buffers in a MAP_SHARED file on ext4)
# and client (RDMA WRITE of a fixed pattern) on one rxe device.  rdma_cm
# needs a netdev with an address for that (see the header), so this job
# gets its own: rxe_fio on one end of a veth pair holding 10.99.0.1/24.
# The client connects to that address; the route is local, rdma_cm maps
# it back to the veth end, and rxe delivers packets to its own GID through
# its internal loopback: nothing leaves the guest.
echo "# [RUN] rdma_write_server + rdma_write_client (fio rdma engine, rxe_fio on veth)"
RDMA_IF=pl_fio0
export PINLAB_RDMA_HOST=10.99.0.1
rxe_fio_up() {
	ip link add $RDMA_IF type veth peer name pl_fio1 &&
	ip addr add $PINLAB_RDMA_HOST/24 dev $RDMA_IF &&
	ip link set pl_fio1 up && ip link set $RDMA_IF up &&
	rdma link add rxe_fio type rxe netdev $RDMA_IF || return 1
	for _ in $(seq 50); do
		ibv_devinfo -d rxe_fio 2>/dev/null | grep -q PORT_ACTIVE && return 0
		sleep 0.1
	done
	return 1
}
rxe_fio_down() {
	rdma link delete rxe_fio 2>/dev/null
	ip link delete $RDMA_IF 2>/dev/null
}
# rdma_pair FS DIR: one server + client run with the server's buffers in
# a MAP_SHARED file on DIR; checks the client's bytes on disk (O_DIRECT,
# after the server deregistered its MR, which dirties the pages, and sync).
rdma_pair() {
	local fs=$1 srv=$2/fio-rdma-server.buf spid crc src res landed
	truncate -s 1M "$srv"
	PINLAB_RDMA_PORT=$((20000 + ($$ + n) % 10000))
	export PINLAB_RDMA_PORT
	# No timeout(1) wrapper: fio blocks in rdma_get_cm_event() and ignores
	# SIGTERM there; the server (its own process group, as fio forks the
	# job) is killed outright when it is not needed.
	PINLAB_FS=$2 setsid fio --output-format=json \
		--output="$tmp/rdma-server.json" "$W/rdma_write_server.fio" \
		> "$tmp/rdma-server.log" 2>&1 &
	spid=$!
	sleep 3
	run_fio rdma_write_client
	job_fields rdma_write_client rdma-client
	crc=$(cat "$tmp/rdma_write_client.rc")
	for _ in $(seq 300); do	# up to 30 s for a server whose client ran
		[ "$crc" = 0 ] && kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	exec 3>&2 2>/dev/null	# no "Killed" job notice in the KTAP
	kill -KILL -- "-$spid"
	wait "$spid"
	src=$?
	exec 2>&3 3>&-
	sed 's/^/# server: /' "$tmp/rdma-server.log" | grep -v 'Jobs:' | head -n 5
	if refuses_longterm_file_write; then
		sync
		landed=yes
		dd if="$srv" iflag=direct bs=64k count=4 2>/dev/null |
			python3 -c '
import sys
data = sys.stdin.buffer.read()
pat = bytes.fromhex("504e4c42") * (4 * 65536 // 4)
sys.exit(0 if data == pat else 1)' || landed=no
		res=fail
		grep -q 'ibv_reg_mr io_u failed: Bad address' "$tmp/rdma-server.log" &&
			[ $landed = no ] && res=ok
		echo "# MATRIX table=fio job=rdma-write-mmapshared fs=$fs | result=$([ $res = ok ] && echo "REFUSED (EFAULT)" || echo unexpected) bw_MiB_s=- iops=-"
		result $res "fio rdma engine $fs: the server's ibv_reg_mr of its MAP_SHARED buffers REFUSED (EFAULT), nothing on disk (landed=$landed)"
	elif [ "$crc" = 0 ] && [ "$src" = 0 ]; then
		sync
		# Each of the server's 4 buffers of 64 KiB must hold the pattern.
		if dd if="$srv" iflag=direct bs=64k count=4 2>/dev/null |
			python3 -c '
import sys
data = sys.stdin.buffer.read()
pat = bytes.fromhex("504e4c42") * (4 * 65536 // 4)
sys.exit(0 if data == pat else 1)'
		then res=ok landed=yes; else res=fail landed=no; fi
		echo "# MATRIX table=fio job=rdma-write-mmapshared fs=$fs | result=$([ $res = ok ] && echo ok || echo not-on-disk) bw_MiB_s=$bw iops=$iops"
		result $res "fio rdma engine $fs: RDMA WRITE into the server's MAP_SHARED buffers, on disk (landed=$landed)"
	else
		echo "# MATRIX table=fio job=rdma-write-mmapshared fs=$fs | result=client-rc=$crc,server-rc=$src bw_MiB_s=- iops=-"
		result fail "fio rdma engine $fs: client rc $crc, server rc $src"
	fi
	rm -f "$srv"
}

if rxe_fio_up; then
	rdma_pair ext4 "$EXT4"
	rdma_pair xfs "$XFS"
else
	result fail "fio rdma engine: rxe_fio on $RDMA_IF did not come up"
	result fail "fio rdma engine: (xfs) no rxe_fio"
fi
rxe_fio_down

# io_uring rings are torn down asynchronously after fio exits
# (io_ring_exit_work): wait for their pins to be released.
for _ in $(seq 100); do
	echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
	acq=$(awk '$1 == "nr_foll_pin_acquired" {print $2}' /proc/vmstat)
	rel=$(awk '$1 == "nr_foll_pin_released" {print $2}' /proc/vmstat)
	[ "$acq" = "$rel" ] && break
	sleep 0.1
done
echo "# [INFO] nr_foll_pin_acquired $acq released $rel"
[ "$acq" = "$rel" ] && result ok "pin counters balanced after all jobs" ||
	result fail "pin counters balanced after all jobs"

echo "# Totals: pass:$((n - fails)) fail:$fails"
[ $fails = 0 ]
