// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <linux/kernel-page-flags.h>
#include <sched.h>
#include <time.h>

#include "pl_verbs.h"

#define PL_RDMA_PORT	1
#define PL_CQ_DEPTH	64

static int pick_gid(struct pl_rdma *r)
{
	static const union ibv_gid zero;
	int idx;

	/* rxe on lo (6.1): index 0 is the link-local fe80::, index 1 the
	 * RoCEv2 ::ffff:127.0.0.1 that routes over lo. */
	if (!ibv_query_gid(r->ctx, PL_RDMA_PORT, 1, &r->gid) &&
	    memcmp(&r->gid, &zero, sizeof(zero))) {
		r->gid_index = 1;
		return 0;
	}
	for (idx = 0; idx < 16; idx++)
		if (!ibv_query_gid(r->ctx, PL_RDMA_PORT, idx, &r->gid) &&
		    memcmp(&r->gid, &zero, sizeof(zero))) {
			r->gid_index = idx;
			return 0;
		}
	return -ENODEV;
}

static int qp_to_rts(struct pl_rdma *r, struct ibv_qp *qp, uint32_t peer_qpn)
{
	struct ibv_qp_attr a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.pkey_index = 0;
	a.port_num = PL_RDMA_PORT;
	a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			    IBV_ACCESS_REMOTE_READ;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			    IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
	if (ret)
		return -ret;

	/* RTR: RoCE needs a GRH, so is_global with our own GID as the
	 * destination: the peer QP lives on this very device. */
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = peer_qpn;
	a.rq_psn = 0;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = r->gid;
	a.ah_attr.grh.sgid_index = r->gid_index;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = PL_RDMA_PORT;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			    IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			    IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
	if (ret)
		return -ret;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = 1;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			    IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			    IBV_QP_MAX_QP_RD_ATOMIC);
	return -ret;
}

static struct ibv_context *open_device(char *name, size_t len)
{
	const char *want = getenv("PINLAB_RDMA_DEV");
	struct ibv_device **list;
	struct ibv_context *ctx = NULL;
	int n, i, pick = -1;

	list = ibv_get_device_list(&n);
	if (!list)
		return NULL;
	for (i = 0; i < n; i++)
		if (!strcmp(ibv_get_device_name(list[i]), want ? want : "rxe_lo"))
			pick = i;
	if (pick < 0 && !want && n > 0)
		pick = 0;
	if (pick >= 0) {
		snprintf(name, len, "%s", ibv_get_device_name(list[pick]));
		ctx = ibv_open_device(list[pick]);
	}
	ibv_free_device_list(list);
	return ctx;
}

int pl_rdma_open(struct pl_rdma *r, int with_qps, const char **why)
{
	struct ibv_port_attr port;
	int i, ret;

	memset(r, 0, sizeof(*r));
	if (!pl_page_size)
		pl_page_size = sysconf(_SC_PAGESIZE);
	r->ctx = open_device(r->name, sizeof(r->name));
	if (!r->ctx) {
		*why = "no RDMA device (rdma link add rxe_lo type rxe netdev lo)";
		return -ENODEV;
	}
	if (ibv_query_port(r->ctx, PL_RDMA_PORT, &port) ||
	    port.state != IBV_PORT_ACTIVE) {
		*why = "port 1 not ACTIVE";
		ret = -ENODEV;
		goto fail;
	}
	if (pick_gid(r)) {
		*why = "only zero GIDs";
		ret = -ENODEV;
		goto fail;
	}
	r->pd = ibv_alloc_pd(r->ctx);
	if (!r->pd) {
		*why = "ibv_alloc_pd";
		ret = -errno;
		goto fail;
	}
	r->cq = ibv_create_cq(r->ctx, PL_CQ_DEPTH, NULL, NULL, 0);
	if (!r->cq) {
		*why = "ibv_create_cq";
		ret = -errno;
		goto fail;
	}
	if (!with_qps)
		return 0;
	for (i = 0; i < 2; i++) {
		struct ibv_qp_init_attr ia = {
			.send_cq = r->cq, .recv_cq = r->cq,
			.cap = { .max_send_wr = 16, .max_recv_wr = 16,
				 .max_send_sge = 1, .max_recv_sge = 1 },
			.qp_type = IBV_QPT_RC,
			.sq_sig_all = 0,
		};

		r->qp[i] = ibv_create_qp(r->pd, &ia);
		if (!r->qp[i]) {
			*why = "ibv_create_qp";
			ret = -errno;
			goto fail;
		}
	}
	for (i = 0; i < 2; i++) {
		ret = qp_to_rts(r, r->qp[i], r->qp[!i]->qp_num);
		if (ret) {
			*why = "ibv_modify_qp INIT/RTR/RTS";
			goto fail;
		}
	}
	return 0;
fail:
	pl_rdma_close(r);
	return ret ? ret : -EIO;
}

void pl_rdma_close(struct pl_rdma *r)
{
	int i;

	for (i = 1; i >= 0; i--)
		if (r->qp[i])
			ibv_destroy_qp(r->qp[i]);
	if (r->cq)
		ibv_destroy_cq(r->cq);
	if (r->pd)
		ibv_dealloc_pd(r->pd);
	if (r->ctx)
		ibv_close_device(r->ctx);
	memset(r, 0, sizeof(*r));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int pl_rdma_rw(struct pl_rdma *r, enum ibv_wr_opcode op, struct ibv_mr *lmr,
	       void *laddr, size_t len, struct ibv_mr *rmr, void *raddr)
{
	static uint64_t wr_id;
	struct ibv_sge sge = {
		.addr = (uintptr_t)laddr, .length = len, .lkey = lmr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = ++wr_id, .sg_list = &sge, .num_sge = 1,
		.opcode = op, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	struct ibv_wc wc;
	double deadline = now_s() + 20;
	int n, ret;

	wr.wr.rdma.remote_addr = (uintptr_t)raddr;
	wr.wr.rdma.rkey = rmr->rkey;
	ret = ibv_post_send(r->qp[0], &wr, &bad);
	if (ret)
		return -ret;
	for (;;) {
		n = ibv_poll_cq(r->cq, 1, &wc);
		if (n < 0)
			return -EIO;
		if (n == 1)
			break;
		if (now_s() > deadline)
			return -ETIMEDOUT;
		sched_yield();
	}
	if (wc.status != IBV_WC_SUCCESS || wc.wr_id != wr.wr_id) {
		ksft_print_msg("work completion: %s (wr_id %llu)\n",
			       ibv_wc_status_str(wc.status),
			       (unsigned long long)wc.wr_id);
		return -EIO;
	}
	return 0;
}

long pl_pages_on_lru(const void *addr, size_t npages)
{
	size_t counts[64];

	if (pl_kpf_census(addr, npages, counts))
		return -1;
	return counts[PL_KPF_ON_LRU_LIST];
}

const char *pl_lru_word(long n, size_t npages)
{
	if (n < 0)
		return "?";
	return (size_t)n == npages ? "yes" : n ? "mixed" : "no";
}
