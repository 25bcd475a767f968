/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pinlab verbs helpers: one Soft-RoCE (rxe) device, one PD and CQ, and two
 * RC QPs on that device connected to each other inside one process (no TCP,
 * no rdma_cm), for tests that let an RDMA "device" write into and read from
 * pinned file-backed memory.  Also the page-flags oracle
 * (/proc/self/pagemap + /proc/kpageflags) the RDMA tests record LRU with.
 */
#ifndef PINLAB_VERBS_H
#define PINLAB_VERBS_H

#include <infiniband/verbs.h>

#include "pinlab.h"

struct pl_rdma {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp[2];	/* qp[0] posts, qp[1] is its peer */
	union ibv_gid gid;
	int gid_index;
	char name[64];
};

/*
 * Open the rxe device ($PINLAB_RDMA_DEV, default rxe_lo, else the first
 * device), allocate PD and CQ and, if with_qps, connect the two QPs.
 * Returns 0; -ENODEV when the capability is absent here (no device, no
 * ACTIVE port, no non-zero GID: the caller skips); -errno otherwise.
 * *why says which step failed.
 */
int pl_rdma_open(struct pl_rdma *r, int with_qps, const char **why);
void pl_rdma_close(struct pl_rdma *r);

/*
 * One signaled RDMA WRITE or READ of len bytes between the local buffer
 * laddr (in lmr) and raddr (in rmr), posted on qp[0] and executed by the
 * peer qp[1]; waits up to 20 s for the completion.  0 or -errno (-EIO with
 * the work completion status printed on a failed completion).
 */
int pl_rdma_rw(struct pl_rdma *r, enum ibv_wr_opcode op, struct ibv_mr *lmr,
	       void *laddr, size_t len, struct ibv_mr *rmr, void *raddr);

/*
 * How many of the npages pages from addr are on an LRU list reclaim scans,
 * from the kernel's own view (/proc/self/pagemap pfn, /proc/kpageflags
 * KPF_LRU without KPF_UNEVICTABLE; the head page's flags for THP/hugetlb).
 * -1 if either file is unreadable.
 */
long pl_pages_on_lru(const void *addr, size_t npages);
/* "yes", "no" or "mixed" for n of npages; "?" for n < 0. */
const char *pl_lru_word(long n, size_t npages);

#endif
