// SPDX-License-Identifier: GPL-2.0
/*
 * reclaim_bench: what pinned file pages cost reclaim (P3, reclaim).
 *
 * In a memory cgroup of 48 MiB, 16 MiB of a MAP_SHARED ext4 file are
 * faulted in (charged to the group) and cleaned by fsync; a co-runner in
 * the same group reads a 96 MiB file sequentially, over and over, for W
 * seconds (10 under make bench, 2 in the smoke), so the group reclaims
 * all the time.  Three phases, each in a fresh group:
 *   unpinned  the 16 MiB are mapped but not pinned (the reference);
 *   pinned    the same, long-term pinned for write;
 *   scanned   pinned again, with mockdma's RECLAIM injection armed on the
 *             first 1024 pinned pages (a kprobe on folio_referenced()):
 *             each armed page that reclaim examines fires once, so the
 *             count is the pinned folios reclaim looked at.  Not timed:
 *             the kprobe slows reclaim.
 * Per phase, from the kernel's own accounting: the group's pgscan and
 * pgsteal (memory.stat), sampled every 500 ms for the plot, the
 * co-runner's throughput (MiB read per second) and its system CPU time
 * (getrusage(): direct reclaim runs in its context).
 *
 * Asserted (KTAP), never a time: every phase ran its co-runner to the end
 * and the group reclaimed (pgscan rose), every page of the mapping is,
 * touched again after the phase, the page the device pinned (pagemap
 * against QUERY's pfns: reclaim may unmap a pinned page, never free it),
 * no kprobe was live in the timed
 * phases and none is left, the pins balance.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "lib/pl_bench.h"

#define MIB		(1UL << 20)
#define MEMCG_MAX	(48L << 20)
#define PIN_BYTES	(16 * MIB)
#define HOG_BYTES	(96 * MIB)
#define ARMED		MOCKDMA_INJECT_MAX_PAGES

static char hog_path[300];

static int make_hog(void)
{
	const char *ext4 = getenv("PINLAB_EXT4");
	char *chunk = malloc(MIB);
	size_t off;
	int fd;

	snprintf(hog_path, sizeof(hog_path), "%s/pinlab-reclaim-hog",
		 ext4 ? ext4 : "/mnt/ext4");
	fd = open(hog_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !chunk)
		return -1;
	memset(chunk, 0x11, MIB);
	for (off = 0; off < HOG_BYTES; off += MIB)
		if (pwrite(fd, chunk, MIB, off) != (ssize_t)MIB)
			return -1;
	free(chunk);
	if (fsync(fd))
		return -1;
	close(fd);
	/* Written outside the group: its clean cache goes before the phases. */
	return pl_cache_evict_clean();
}

/* The co-runner: reads the hog file until @secs passed; MiB/s on @wfd. */
static void corunner(int wfd, int secs)
{
	char *b = malloc(MIB);
	double t0 = pl_now_ns(), mib = 0, el;
	int fd = open(hog_path, O_RDONLY);
	off_t off = 0;
	struct rusage ru;
	double out[2];

	if (fd < 0 || !b)
		_exit(1);
	while ((el = (pl_now_ns() - t0) / 1e9) < secs) {
		ssize_t n = pread(fd, b, MIB, off);

		if (n <= 0) {
			if (n < 0)
				_exit(1);
			off = 0;
			continue;
		}
		off += n;
		mib += n / (double)MIB;
	}
	getrusage(RUSAGE_SELF, &ru);
	out[0] = mib / el;
	out[1] = ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
	if (write(wfd, out, sizeof(out)) != sizeof(out))
		_exit(1);
	_exit(0);
}

/* The pfns of the pinned pages, as the device sees them (QUERY). */
static int pinned_pfns(int mfd, __u32 h, size_t np, __u64 *pfn)
{
	struct mockdma_page_state *st = calloc(np, sizeof(*st));
	size_t i;
	int ret;

	if (!st)
		return -ENOMEM;
	ret = pl_query(mfd, h, 0, np, st);
	for (i = 0; !ret && i < np; i++)
		pfn[i] = st[i].pfn;
	free(st);
	return ret;
}

static int phase(int mfd, const char *name, int pin, int arm, int secs)
{
	size_t np = PIN_BYTES / pl_page_size, i;
	long scan0, steal0, scan, steal;
	double res[2] = { 0, 0 };
	__u64 *pfn0 = calloc(np, sizeof(*pfn0)), fired = 0;
	int p[2], ok = 1, status, moved = 0, t;
	struct pl_memcg cg;
	struct pl_buf buf;
	__u32 h = 0, seq = 0;
	pid_t child;

	/* No hog page cached from an earlier phase (charged to its group). */
	if (!pfn0 || pipe(p) || pl_cache_evict_clean() ||
	    pl_memcg_enter(&cg, "pinlab-rbench", MEMCG_MAX))
		return 0;
	if (pl_buf_setup_len(&buf, PL_MEM_EXT4_SHARED, PIN_BYTES) ||
	    fsync(buf.fd)) {
		pl_buf_teardown(&buf);
		pl_memcg_leave(&cg);
		return 0;
	}
	if (pin && pl_pin(mfd, buf.addr, buf.len, MOCKDMA_METHOD_PIN,
			  pl_device_write_flags(PL_MEM_EXT4_SHARED,
						MOCKDMA_METHOD_PIN), &h))
		ok = 0;
	if (pin && ok && pinned_pfns(mfd, h, np, pfn0))
		ok = 0;
	if (ok && arm)
		ok = !pl_inject_arm(mfd, h, MOCKDMA_INJECT_RECLAIM, 0, ARMED, 0,
				    MOCKDMA_STAMP_SIZE, &seq);
	if (ok && !arm && !pl_bench_no_probes())
		ok = 0;
	scan0 = pl_memcg_stat(&cg, "pgscan");
	steal0 = pl_memcg_stat(&cg, "pgsteal");
	child = ok ? fork() : -1;
	if (child == 0)
		corunner(p[1], secs);
	for (t = 1; child > 0 && t <= 2 * secs; t++) {
		usleep(500000);
		printf("# BENCH table=pgscan-series phase=%s t_ms=%d | pgscan=%ld pgsteal=%ld\n",
		       name, t * 500, pl_memcg_stat(&cg, "pgscan") - scan0,
		       pl_memcg_stat(&cg, "pgsteal") - steal0);
	}
	if (child > 0) {
		if (read(p[0], res, sizeof(res)) != sizeof(res))
			ok = 0;
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			ok = 0;
	} else {
		ok = 0;
	}
	scan = pl_memcg_stat(&cg, "pgscan") - scan0;
	steal = pl_memcg_stat(&cg, "pgsteal") - steal0;
	if (ok && scan <= 0) {
		ksft_print_msg("%s: the group did not reclaim (pgscan +%ld)\n",
			       name, scan);
		ok = 0;
	}
	/*
	 * Reclaim may unmap a pinned page but cannot free it: touched again,
	 * every page of the mapping is the page the device holds.
	 */
	for (i = 0; ok && pin && i < np; i++) {
		(void)*(volatile char *)(buf.addr + i * pl_page_size);
		moved += pl_pagemap_pfn(buf.addr + i * pl_page_size) != pfn0[i];
	}
	if (moved) {
		ksft_print_msg("%s: %d pages of the mapping are not the pinned ones\n",
			       name, moved);
		ok = 0;
	}
	if (arm && pl_inject_disarm(mfd, h, MOCKDMA_INJECT_RECLAIM, &fired))
		ok = 0;
	if (pin && pl_unpin(mfd, h, 0))
		ok = 0;
	pl_buf_teardown(&buf);
	pl_memcg_leave(&cg);
	close(p[0]);
	close(p[1]);
	free(pfn0);
	if (ok && !arm)
		printf("# BENCH table=reclaim phase=%s | window_s=%d pgscan=%ld pgsteal=%ld corunner_mib_per_s=%.2f corunner_sys_ms=%.0f\n",
		       name, secs, scan, steal, res[0], res[1]);
	if (ok && arm)
		printf("# BENCH table=reclaim-scanned phase=%s | armed=%d pinned_scanned=%llu pgscan=%ld\n",
		       name, ARMED, (unsigned long long)fired, scan);
	return ok;
}

int main(void)
{
	int full = pl_bench_full(), mfd = pl_open_or_skip();
	int secs = full ? 10 : 2;
	struct pl_bench_guard guard;

	ksft_set_plan(3 + 1);
	ksft_print_msg("[INFO] %s run: %d s per phase\n", full ? "full" : "smoke",
		       secs);
	if (make_hog())
		ksft_exit_fail_msg("cannot write %s\n", hog_path);
	if (pl_bench_begin(&guard))
		ksft_exit_fail_msg("not quiet before timing\n");
	ksft_test_result(phase(mfd, "unpinned", 0, 0, secs),
			 "unpinned: the group reclaimed under the co-runner\n");
	ksft_test_result(phase(mfd, "pinned", 1, 0, secs),
			 "pinned: the group reclaimed, the pinned pages stayed put\n");
	ksft_test_result(phase(mfd, "scanned", 1, 1, secs),
			 "scanned: RECLAIM injections counted the pinned folios reclaim examined\n");
	unlink(hog_path);
	ksft_test_result(!pl_bench_end(&guard),
			 "no injection kprobe left live; pin counters balance\n");
	close(mfd);
	ksft_finished();
}
