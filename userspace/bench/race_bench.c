// SPDX-License-Identifier: GPL-2.0
/*
 * race_bench: how long each injection scenario takes to hit its window,
 * and in how many attempts (P5).
 *
 * One page of a 16-page MAP_SHARED file, long-term pinned for write, is
 * armed at a point of mockdma's injection (driver/mockdma_inject.c) and
 * the kernel is driven there, one attempt at a time, until the armed page
 * fired or MAX_ATTEMPTS attempts went by:
 *   wb_start, wb_end (ext4, xfs)  the page is dirtied through the mapping
 *                                 and fsync(2) writes it back
 *                                 (__folio_start_writeback() and
 *                                 folio_end_writeback());
 *   reclaim (ext4)                the program runs in a 16 MiB memory
 *                                 cgroup whose page cache a 24 MiB read
 *                                 (workloads/pagecache-hog.sh, of a file
 *                                 written before the clocks start) makes
 *                                 reclaim (folio_referenced());
 *   reclaim-full (ext4)           the same with the group filled to its
 *                                 limit first (a 15 MiB file read into
 *                                 its page cache before arming), so that
 *                                 the pressure reclaims from its first
 *                                 page: what the window costs once the
 *                                 group is full;
 *   shrinker (ext4)               "echo 2 > drop_caches" calls mockdma's
 *                                 shrinker.
 * The time is wall clock from the first trigger to the moment QUERY counts
 * the injection as fired (polled every 2 ms while the reclaim pressure
 * runs; the synchronous triggers fire inside their system call).  Each scenario repeats (5 times
 * under make bench, once in the smoke).
 *
 * Asserted (KTAP), never a time: every repeat hit the window (one fired
 * injection, and its stamp is in the page: the device really wrote at that
 * point), except where a kernel cannot reach it: the series parks a
 * long-term pinned folio off the LRU, so reclaim never considers it and
 * the reclaim window is expected unreachable there (0 of N).  Afterwards
 * no kprobe is left live and the pins balance.  Numbers: "# BENCH
 * table=race-timing" lines: ms median, min, max; hits and attempts.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "lib/pl_bench.h"

#define NPAGES		16
#define MAX_ATTEMPTS	5
#define MAX_REPEATS	5
#define MEMCG_MAX	(16L << 20)
#define HOG_MIB		"24"

struct scenario {
	const char *name;
	__u32 point;
	enum pl_mem mem;
	int prefill;	/* fill the group to its limit before arming */
};

static const struct scenario scenarios[] = {
	{ "wb_start", MOCKDMA_INJECT_WB_START, PL_MEM_EXT4_SHARED, 0 },
	{ "wb_start", MOCKDMA_INJECT_WB_START, PL_MEM_XFS_SHARED, 0 },
	{ "wb_end", MOCKDMA_INJECT_WB_END, PL_MEM_EXT4_SHARED, 0 },
	{ "wb_end", MOCKDMA_INJECT_WB_END, PL_MEM_XFS_SHARED, 0 },
	{ "reclaim", MOCKDMA_INJECT_RECLAIM, PL_MEM_EXT4_SHARED, 0 },
	{ "reclaim-full", MOCKDMA_INJECT_RECLAIM, PL_MEM_EXT4_SHARED, 1 },
	{ "shrinker", MOCKDMA_INJECT_SHRINKER, PL_MEM_EXT4_SHARED, 0 },
};
#define NR_SCENARIOS	(sizeof(scenarios) / sizeof(scenarios[0]))

static char hog_file[300], fill_file[300];

#define FILL_MIB	"15"

/*
 * Reads fill_file (written before the clocks) into the group's cache,
 * after evicting the clean cache a previous repeat's (removed) group
 * still holds of it (drop_caches 1: no reclaim, no shrinker).
 */
static int fill_group(void)
{
	char *b = malloc(1 << 20);
	int fd = open(fill_file, O_RDONLY), ret = 0;

	if (fd < 0 || !b || pl_cache_evict_clean())
		ret = -1;
	while (!ret) {
		ssize_t n = read(fd, b, 1 << 20);

		if (n < 0)
			ret = -1;
		if (n <= 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	free(b);
	return ret;
}

static __u64 fired_now(int mfd, __u32 h)
{
	struct mockdma_page_state st;
	struct mockdma_query q = {
		.handle = h, .npages = 1, .pages = (unsigned long)&st,
	};

	if (pl_ioctl(mfd, MOCKDMA_IOC_QUERY, &q))
		return ~0ULL;
	return q.inject_fired;
}

/*
 * One attempt at driving the kernel to @point for page 0 of @buf.  The
 * reclaim pressure runs in a child while the injection counter is polled
 * every 2 ms, so that *@fire_ns is when it fired, not when the pressure
 * ended; the synchronous triggers fire inside their system call.
 */
static int attempt(const struct scenario *s, struct pl_buf *buf, int mfd,
		   __u32 h, __u64 fired0, double *fire_ns)
{
	const char *const hog[] = { hog_file, HOG_MIB, "1", NULL };
	int status, ret = 0;
	pid_t pid;

	switch (s->point) {
	case MOCKDMA_INJECT_WB_START:
	case MOCKDMA_INJECT_WB_END:
		buf->addr[64] ^= 1;	/* dirty it through the mapping */
		ret = fsync(buf->fd) ? -errno : 0;
		break;
	case MOCKDMA_INJECT_RECLAIM:
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return -errno;
		if (!pid)
			_exit(pl_workload("pagecache-hog.sh", hog) ? 1 : 0);
		while (waitpid(pid, &status, WNOHANG) == 0) {
			if (!*fire_ns && fired_now(mfd, h) != fired0)
				*fire_ns = pl_now_ns();
			usleep(2000);
		}
		ret = WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
		break;
	default:
		ret = pl_write_file("/proc/sys/vm/drop_caches", "2");
	}
	if (!ret && !*fire_ns && fired_now(mfd, h) != fired0)
		*fire_ns = pl_now_ns();
	return ret;
}

/* One repeat: 1 hit, 0 missed, -1 broken; *ms and *tries measured. */
static int repeat(int mfd, const struct scenario *s, double *ms, int *tries)
{
	struct pl_buf buf;
	struct pl_memcg cg;
	int in_cg = 0, ret = -1, a;
	__u64 fired0, fired = 0;
	__u32 h, seq = 0;
	double t0, fire_ns = 0;

	if (s->point == MOCKDMA_INJECT_RECLAIM) {
		if (pl_memcg_enter(&cg, "pinlab-race", MEMCG_MAX))
			return -1;
		in_cg = 1;
	}
	/* Faulted in inside the group: its pages are charged there. */
	if (pl_buf_setup_len(&buf, s->mem, NPAGES * pl_page_size) ||
	    pl_pin(mfd, buf.addr, buf.len, MOCKDMA_METHOD_PIN,
		   pl_device_write_flags(s->mem, MOCKDMA_METHOD_PIN), &h)) {
		pl_buf_teardown(&buf);
		goto out_cg;
	}
	if (fsync(buf.fd))
		goto out_unpin;
	fired0 = fired_now(mfd, h);
	/* The group at its limit: the pressure reclaims from its first page. */
	if (s->prefill && fill_group())
		goto out_unpin;
	if (pl_inject_arm(mfd, h, s->point, 0, 1, 0, MOCKDMA_STAMP_SIZE, &seq))
		goto out_unpin;
	t0 = pl_now_ns();
	for (a = 1; a <= MAX_ATTEMPTS; a++) {
		if (attempt(s, &buf, mfd, h, fired0, &fire_ns))
			goto out_disarm;
		fired = fired_now(mfd, h) - fired0;
		if (fired)
			break;
	}
	*ms = ((fired ? fire_ns : pl_now_ns()) - t0) / 1e6;
	*tries = fired ? a : MAX_ATTEMPTS;
	ret = fired == 1;
	/* The device wrote at that point: its stamp is in the page. */
	if (fired) {
		const struct mockdma_stamp *st = (const void *)buf.addr;

		if (st->magic != MOCKDMA_STAMP_MAGIC || st->handle != h ||
		    st->page_index != 0 || st->seq != seq) {
			ksft_print_msg("%s: fired, but the page does not hold the injection's stamp\n",
				       s->name);
			ret = -1;
		}
	}
out_disarm:
	if (pl_inject_disarm(mfd, h, s->point, NULL))
		ret = -1;
out_unpin:
	if (pl_unpin(mfd, h, 0))
		ret = -1;
	pl_buf_teardown(&buf);
out_cg:
	if (in_cg)
		pl_memcg_leave(&cg);
	return ret;
}

int main(void)
{
	const char *ext4 = getenv("PINLAB_EXT4");
	const char *const make_hog[] = { hog_file, HOG_MIB, "0", NULL };
	const char *const make_fill[] = { fill_file, FILL_MIB, "0", NULL };
	int full = pl_bench_full(), mfd = pl_open_or_skip();
	int repeats = full ? MAX_REPEATS : 1;
	int parked = pl_kernel_patched();
	struct pl_bench_guard guard;
	size_t i;

	ksft_set_plan(NR_SCENARIOS + 1);
	ksft_print_msg("[INFO] %s run: %d repeats per scenario, at most %d attempts each\n",
		       full ? "full" : "smoke", repeats, MAX_ATTEMPTS);
	snprintf(hog_file, sizeof(hog_file), "%s/pinlab-race-hog",
		 ext4 ? ext4 : "/mnt/ext4");
	snprintf(fill_file, sizeof(fill_file), "%s/pinlab-race-fill",
		 ext4 ? ext4 : "/mnt/ext4");
	/* The reclaim pressure's files, written before any clock runs. */
	if (pl_workload("pagecache-hog.sh", make_hog) ||
	    pl_workload("pagecache-hog.sh", make_fill) || pl_cache_evict_clean())
		ksft_exit_fail_msg("cannot write %s and %s\n", hog_file,
				   fill_file);
	/*
	 * The reclaim window is folio_referenced() from shrink_folio_list(),
	 * the classic LRU's path.  The multi-gen LRU (on in Debian's 6.12)
	 * ages a young mapped folio by its page-table walk and promotes it
	 * before eviction ever calls folio_referenced(), so whether the
	 * pressure reaches the pinned page is its aging, not the fixture's
	 * timing (6.12.95: reclaim-full 0 hits in 5 attempts).  P5 times the
	 * classic path on every kernel; lru_gen is switched back at exit.
	 */
	if (!access(PL_LRU_GEN, F_OK) && pl_lru_gen_switch(0))
		ksft_exit_fail_msg("cannot switch the multi-gen LRU off\n");
	if (pl_bench_begin(&guard))
		ksft_exit_fail_msg("not quiet before the first scenario\n");
	for (i = 0; i < NR_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];
		/* The series parks the pinned folio: reclaim never sees it. */
		int reachable = !(parked && s->point == MOCKDMA_INJECT_RECLAIM);
		double ms[MAX_REPEATS], tries[MAX_REPEATS];
		int r, hits = 0, broken = 0;
		struct pl_stat st;

		for (r = 0; r < repeats; r++) {
			int t = 0, ret = repeat(mfd, s, &ms[r], &t);

			tries[r] = t;
			if (ret < 0)
				broken = 1;
			else
				hits += ret;
		}
		printf("# BENCH table=race-timing point=%s fs=%s | hits=%d repeats=%d",
		       s->name, pl_mem_name(s->mem), hits, repeats);
		pl_stat_of(ms, repeats, &st);
		pl_stat_print("ms", &st);
		pl_stat_of(tries, repeats, &st);
		printf(" attempts=%g attempts_max=%g\n", st.median, st.max);
		ksft_test_result(!broken && hits == (reachable ? repeats : 0),
				 "%s %s: %d of %d repeats hit the window (%s)\n",
				 s->name, pl_mem_name(s->mem), hits, repeats,
				 reachable ? "every one expected" :
				 "parked off the LRU: none expected");
	}
	unlink(hog_file);
	unlink(fill_file);
	ksft_test_result(!pl_bench_end(&guard),
			 "no injection kprobe left live; pin counters balance\n");
	close(mfd);
	ksft_finished();
}
