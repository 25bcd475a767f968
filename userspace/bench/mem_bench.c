// SPDX-License-Identifier: GPL-2.0
/*
 * mem_bench: the memory the series costs, from the kernel's own
 * accounting (the report's Memory line).
 *
 * Fixed cost: page_ext, which the series uses for its exact pin count
 * (patch 2), is allocated at boot for every page when any page_ext user
 * needs it, and the kernel says so once: "allocated N bytes of page_ext"
 * (mm/page_ext.c).  The program reads the whole kernel log through
 * /dev/kmsg (which "dmesg -c" does not empty) and fails if the log no
 * longer starts at record 0 (a wrapped buffer would hide the line); no
 * line means no page_ext (base and stock: the reference).  Per page:
 * N / MemTotal pages.
 *
 * Per pinned page: Slab and SUnreclaim of /proc/meminfo before and after
 * long-term pinning 16384 pages (64 MiB) of a MAP_SHARED ext4 file,
 * median of 5 pins (1 in the smoke); with the series' switch, once with
 * parking on and once off.  mockdma's own page array is kvcalloc()ed
 * (vmalloc above a page, not slab), so the slab delta is the kernel's:
 * on base it is the reference.
 *
 * Asserted (KTAP): the boot log was complete, every pin covered the
 * range, the pins balance.
 */
#include <fcntl.h>

#include "lib/pl_bench.h"

#define NPAGES		16384UL
#define MAX_ROUNDS	5

/* page_ext bytes from the boot log; 0 without the line, -1 if unknowable. */
static long page_ext_bytes(void)
{
	char rec[2048];
	long bytes = 0, first = -1;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, rec, sizeof(rec) - 1)) != 0) {
		char *msg, *hit;
		long seq;

		if (n < 0) {
			if (errno == EPIPE)	/* overwritten while reading */
				continue;
			break;			/* EAGAIN: the end */
		}
		rec[n] = 0;
		if (sscanf(rec, "%*d,%ld,", &seq) == 1 && first < 0)
			first = seq;
		msg = strchr(rec, ';');
		hit = msg ? strstr(msg, "allocated ") : NULL;
		if (hit && strstr(hit, "bytes of page_ext"))
			sscanf(hit, "allocated %ld", &bytes);
	}
	close(fd);
	if (first != 0) {
		ksft_print_msg("kernel log starts at record %ld, not 0: the boot lines may be gone\n",
			       first);
		return -1;
	}
	return bytes;
}

static long meminfo_kib(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	if (f)
		fclose(f);
	return v;
}

static int slab_per_page(int mfd, struct pl_buf *buf, int rounds,
			 const char *sw)
{
	double slab[MAX_ROUNDS], unrec[MAX_ROUNDS];
	struct pl_stat st;
	int i;

	for (i = 0; i < rounds; i++) {
		long s0, u0, s1, u1;
		__u32 h;

		pl_lru_drain_all();
		s0 = meminfo_kib("Slab");
		u0 = meminfo_kib("SUnreclaim");
		if (pl_pin(mfd, buf->addr, buf->len, MOCKDMA_METHOD_PIN,
			   pl_device_write_flags(PL_MEM_EXT4_SHARED,
						 MOCKDMA_METHOD_PIN), &h))
			return 0;
		pl_lru_drain_all();
		s1 = meminfo_kib("Slab");
		u1 = meminfo_kib("SUnreclaim");
		if (pl_unpin(mfd, h, 0) || s0 < 0 || s1 < 0)
			return 0;
		slab[i] = (s1 - s0) * 1024.0 / NPAGES;
		unrec[i] = (u1 - u0) * 1024.0 / NPAGES;
	}
	printf("# BENCH table=memory item=slab-per-pinned-page dma_pin_lru=%s |",
	       sw);
	pl_stat_of(slab, rounds, &st);
	pl_stat_print("bytes", &st);
	pl_stat_of(unrec, rounds, &st);
	printf(" sunreclaim_bytes=%.6g\n", st.median);
	return 1;
}

int main(void)
{
	int full = pl_bench_full(), mfd = pl_open_or_skip();
	int series = pl_series_live();
	int rounds = full ? MAX_ROUNDS : 1, ok;
	long pe = page_ext_bytes(), total = meminfo_kib("MemTotal");
	struct pl_bench_guard guard;
	struct pl_buf buf;

	ksft_set_plan(2 + 1);
	ksft_test_result(pe >= 0 && total > 0,
			 "the boot log is complete: page_ext %s\n",
			 pe > 0 ? "allocated" : "not allocated (no line)");
	if (pe >= 0 && total > 0)
		printf("# BENCH table=memory item=page_ext dma_pin_lru=- | bytes=%ld bytes_per_page=%.3f memtotal_kib=%ld\n",
		       pe, pe / (total * 1024.0 / pl_page_size), total);
	if (pl_bench_begin(&guard))
		ksft_exit_fail_msg("not quiet before measuring\n");
	ok = !pl_buf_setup_len(&buf, PL_MEM_EXT4_SHARED, NPAGES * pl_page_size);
	if (ok && series) {
		ok = !pl_series_switch(1) &&
		     slab_per_page(mfd, &buf, rounds, "1") &&
		     !pl_series_switch(0) &&
		     slab_per_page(mfd, &buf, rounds, "0") &&
		     !pl_series_switch(1);
	} else if (ok) {
		ok = slab_per_page(mfd, &buf, rounds, "-");
	}
	pl_buf_teardown(&buf);
	ksft_test_result(ok, "%d device write pins (long-term where granted) of %lu pages, slab measured\n",
			 rounds, NPAGES);
	ksft_test_result(!pl_bench_end(&guard),
			 "no injection kprobe live; pin counters balance\n");
	close(mfd);
	ksft_finished();
}
