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
 * Asserted (KTAP), never a time: after every write the mapping holds that
 * write's stamps on every page (the device wrote what was timed;
 * pl_count_stamped()), the reference ran over the pages asked for, no
 * injection kprobe was live, and the pins balance afterwards.  Numbers:
 * "# BENCH table=dma-bw" lines, MB/s (10^6 bytes per second) median, min,
 * max.
 */
#include <fcntl.h>

#include "lib/pl_bench.h"

#define MIB		(1UL << 20)
#define MEMCPY_REF	"/sys/kernel/debug/mockdma/bench_memcpy"
#define MAX_ROUNDS	7

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
		   MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h)) {
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

int main(void)
{
	static const size_t full_sizes[] = { 1, 16, 64 };
	static const enum pl_mem mems[] = { PL_MEM_ANON, PL_MEM_EXT4_SHARED };
	int full = pl_bench_full(), mfd = pl_open_or_skip();
	int rounds = full ? MAX_ROUNDS : 2;
	size_t nsizes = full ? 3 : 1, si, mi;
	struct pl_bench_guard guard;

	ksft_set_plan(2 + 1);
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
	ksft_test_result(!pl_bench_end(&guard),
			 "no injection kprobe live while timing; pin counters balance\n");
	close(mfd);
	ksft_finished();
}
