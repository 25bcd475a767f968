// SPDX-License-Identifier: GPL-2.0
/*
 * dma_bench: the fake device's write bandwidth against an in-kernel
 * memcpy of the same size, in the same boot (P4).
 *
 * The buffer (anonymous memory in 4 KiB pages, and a MAP_SHARED ext4
 * file) is long-term pinned for write once; each round times one
 * MOCKDMA_IOC_DMA_WRITE of the whole range by wall clock around the ioctl
 * (what a caller waits for: 16-byte stamps written through
 * kmap_local_page(), page by page), and one run of mockdma's debugfs
 * bench_memcpy over as many pages (driver/mockdma_bench.c: a PAGE_SIZE
 * memcpy() per kernel page through kmap_local_page(), timed in the kernel
 * around the copy loop only).  Rounds are interleaved.  The report's P4
 * ratio is memcpy ns / DMA_WRITE ns of one buffer (1.0: the device writes
 * as fast as memcpy copies).
 *
 * For context, not for the goal: one RDMA WRITE over Soft-RoCE (rxe_lo,
 * both QPs on the one device) of the same size from an anonymous source
 * MR into an MR of the same kind of buffer, timed around post and
 * completion (pl_rdma_rw()): what a "real" software device costs for the
 * same bytes.  rxe copies with the CPU in its tasklet, page by page, like
 * mockdma; a kernel that refuses the MR (6.12, long-term write pins of
 * ext4 files) has no such cell.
 *
 * Asserted (KTAP), never a time: after every write the mapping holds that
 * write's stamps on every page (the device wrote what was timed;
 * pl_count_stamped()), the reference ran over the pages asked for, no
 * injection kprobe was live, and the pins balance afterwards.  Numbers:
 * "# BENCH table=dma-bw" lines, MB/s (10^6 bytes per second) median, min,
 * max.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pl_bench.h"
#include "lib/pl_verbs.h"

#define MIB		(1UL << 20)
#define MEMCPY_REF	"/sys/kernel/debug/mockdma/bench_memcpy"
#define MAX_ROUNDS	7
#define RXE_TAG		0x52584557	/* "RXEW": the rxe source's stamps */
#define RW		(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ)

/* One reference run over @np pages: the kernel's ns, < 0 on error. */
static double memcpy_ns(size_t np)
{
	unsigned long pages = 0;
	unsigned long long ns = 0;
	char val[32];
	FILE *f;

	snprintf(val, sizeof(val), "%zu", np);
	if (pl_write_file(MEMCPY_REF, val))
		return -1;
	f = fopen(MEMCPY_REF, "r");
	if (!f)
		return -1;
	if (fscanf(f, "pages %lu ns %llu", &pages, &ns) != 2)
		pages = 0;
	fclose(f);
	if (pages != np || !ns) {
		ksft_print_msg("bench_memcpy: %lu pages, %llu ns (asked %zu pages)\n",
			       pages, ns, np);
		return -1;
	}
	return ns;
}

static void print_stat(const char *mem, size_t len, const char *method,
		       double *ns, int rounds)
{
	double mbps[MAX_ROUNDS];
	struct pl_stat st;
	int i;

	for (i = 0; i < rounds; i++)
		mbps[i] = len / ns[i] * 1e3;	/* bytes/ns = 1000 MB/s */
	pl_stat_of(mbps, rounds, &st);
	printf("# BENCH table=dma-bw mem=%s size_mib=%zu method=%s |", mem,
	       len / MIB, method);
	pl_stat_print("mb_per_s", &st);
	printf("\n");
}

static int run(int mfd, enum pl_mem mem, size_t len, int rounds)
{
	double dma[MAX_ROUNDS], ref[MAX_ROUNDS];
	size_t np = len / pl_page_size;
	struct pl_buf buf;
	int i, ok = 1;
	__u32 h, seq;

	if (pl_buf_setup_len(&buf, mem, len) ||
	    pl_pin(mfd, buf.addr, buf.len, MOCKDMA_METHOD_PIN,
		   pl_device_write_flags(mem, MOCKDMA_METHOD_PIN), &h)) {
		pl_buf_teardown(&buf);
		ksft_print_msg("%s %zu MiB: set-up failed\n", pl_mem_name(mem),
			       len / MIB);
		return 0;
	}
	for (i = 0; ok && i < rounds; i++) {
		double t0 = pl_now_ns();

		ok = !pl_dma_write(mfd, h, 0, len, 0, &seq);
		dma[i] = pl_now_ns() - t0;
		if (ok && pl_count_stamped(buf.addr, len, h, 0, seq) != np) {
			ksft_print_msg("%s: write %u not in every page\n",
				       pl_mem_name(mem), seq);
			ok = 0;
		}
		ref[i] = memcpy_ns(np);
		ok &= ref[i] > 0;
	}
	ok &= !pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY);
	pl_buf_teardown(&buf);
	if (ok) {
		print_stat(pl_mem_name(mem), len, "dma-write", dma, rounds);
		print_stat(pl_mem_name(mem), len, "memcpy", ref, rounds);
	}
	return ok;
}

/*
 * RDMA WRITEs over rxe of @len bytes into a @mem buffer, @rounds times:
 * 1 (with its table line), 0 on a failure, -1 if the kernel refuses
 * the destination MR as it should (6.12, file pages).
 */
static int run_rxe(struct pl_rdma *r, enum pl_mem mem, size_t len,
		   int rounds)
{
	struct ibv_mr *smr = NULL, *dmr = NULL;
	double ns[MAX_ROUNDS];
	size_t np = len / pl_page_size;
	struct pl_buf buf;
	char *src;
	int i, ok = 0;

	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || pl_buf_setup_len(&buf, mem, len)) {
		ksft_print_msg("rxe %s %zu MiB: set-up failed\n",
			       pl_mem_name(mem), len / MIB);
		if (src != MAP_FAILED)
			munmap(src, len);
		return 0;
	}
	smr = ibv_reg_mr(r->pd, src, len, RW);
	dmr = ibv_reg_mr(r->pd, buf.addr, len, RW);
	if (!dmr && pl_mem_is_file(mem) &&
	    pl_kernel_refuses_longterm_file_write()) {
		ok = -1;
		goto out;
	}
	if (!smr || !dmr) {
		ksft_print_msg("rxe %s: ibv_reg_mr: %s\n", pl_mem_name(mem),
			       strerror(errno));
		goto out;
	}
	ok = 1;
	for (i = 0; ok && i < rounds; i++) {
		double t0;

		pl_fill_stamps(src, len, RXE_TAG, i + 1);
		t0 = pl_now_ns();
		ok = !pl_rdma_rw(r, IBV_WR_RDMA_WRITE, smr, src, len, dmr,
				 buf.addr);
		ns[i] = pl_now_ns() - t0;
		if (ok && pl_count_stamped(buf.addr, len, RXE_TAG, 0, i + 1) != np) {
			ksft_print_msg("rxe %s: RDMA WRITE %d not in every page\n",
				       pl_mem_name(mem), i + 1);
			ok = 0;
		}
	}
	if (ok)
		print_stat(pl_mem_name(mem), len, "rxe-write", ns, rounds);
out:
	if (dmr)
		ibv_dereg_mr(dmr);
	if (smr)
		ibv_dereg_mr(smr);
	pl_buf_teardown(&buf);
	munmap(src, len);
	return ok;
}

int main(void)
{
	static const size_t full_sizes[] = { 1, 16, 64 };
	static const enum pl_mem mems[] = { PL_MEM_ANON, PL_MEM_EXT4_SHARED };
	int full = pl_bench_full(), mfd = pl_open_or_skip();
	int rounds = full ? MAX_ROUNDS : 2;
	size_t nsizes = full ? 3 : 1, si, mi;
	struct pl_bench_guard guard;

	struct pl_rdma r = { 0 };
	const char *why = "";
	int ret;

	ksft_set_plan(2 + 1 + 1);
	ksft_print_msg("[INFO] %s run: %d interleaved rounds per cell\n",
		       full ? "full" : "smoke", rounds);
	if (access(MEMCPY_REF, W_OK))
		ksft_exit_fail_msg("%s: %s (mockdma too old?)\n", MEMCPY_REF,
				   strerror(errno));
	if (pl_bench_begin(&guard))
		ksft_exit_fail_msg("not quiet before timing\n");
	for (mi = 0; mi < 2; mi++) {
		int ok = 1;

		for (si = 0; si < nsizes; si++)
			ok &= run(mfd, mems[mi], full_sizes[si] * MIB, rounds);
		ksft_test_result(ok, "%s: every timed write landed on every page, reference ran\n",
				 pl_mem_name(mems[mi]));
	}
	ret = pl_rdma_open(&r, 1, &why);
	if (ret == -ENODEV) {
		ksft_test_result_skip("rxe context: no Soft-RoCE device (%s)\n", why);
	} else if (ret) {
		ksft_test_result_fail("rxe context: %s: %s\n", why, strerror(-ret));
	} else {
		int ok = 1;

		for (mi = 0; mi < 2; mi++)
			for (si = 0; si < nsizes; si++)
				ok &= run_rxe(&r, mems[mi], full_sizes[si] * MIB,
					      rounds) != 0;
		pl_rdma_close(&r);
		ksft_test_result(ok, "rxe context: every timed RDMA WRITE landed on every page\n");
	}
	ksft_test_result(!pl_bench_end(&guard),
			 "no injection kprobe live while timing; pin counters balance\n");
	close(mfd);
	ksft_finished();
}
