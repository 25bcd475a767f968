// SPDX-License-Identifier: GPL-2.0
/*
 * pin_bench: what a pin + unpin costs per page, mockdma against the
 * kernel's own gup_test on the same buffer in the same boot (P1), and
 * with the series' parking on and off (P2).
 *
 * Buffers: anonymous memory in 4 KiB pages (MADV_NOHUGEPAGE) and in THPs
 * (MADV_HUGEPAGE, PMD aligned), memfd, and MAP_SHARED ext4 and xfs files,
 * prefaulted and dirty, so that every pin finds present writable PTEs and
 * measures GUP, not page faults.  Nothing may clean a file buffer while
 * it is timed (writeback write-protects the PTEs, and the next FOLL_WRITE
 * pin then faults every page through ->page_mkwrite: the 256 MiB file
 * cells cost 2-30 us per page, 10-100x the 16 MiB ones, before this):
 * periodic writeback is off and the dirty thresholds are above any
 * buffer for the run (pl_knobs_set()).  Sizes 1 MiB (2 MiB for THP; make
 * check's smoke), and
 * under make bench 16 and 256 MiB, plus 1 GiB of anonymous memory (the
 * 512 MiB file-system images hold no more than 256 MiB files; the guest
 * has 2 GiB; the 1 GiB buffers in GUP calls of 512 only, for time).
 *
 * Methods, each timed by wall clock around its ioctls, pin and unpin of
 * the whole buffer in GUP calls of B pages:
 *   mockdma-longterm  one MOCKDMA_IOC_PIN of the whole buffer (METHOD_PIN:
 *                     pin_user_pages() under the mmap lock, FOLL_LONGTERM |
 *                     FOLL_WRITE) with debugfs gup_chunk_pages = B, then its
 *                     UNPIN (clean): what a driver registering the buffer
 *                     pays, handle, page array and RLIMIT_MEMLOCK charging
 *                     included, as ib_umem_get() pins a whole region in
 *                     one call;
 *   gup_test-longterm PIN_LONGTERM_BENCHMARK, nr_pages_per_call = B: the
 *                     same GUP calls, one ioctl for the whole buffer;
 *   mockdma-fast      METHOD_PIN_FAST (pin_user_pages_fast(), FOLL_WRITE,
 *                     short-term);
 *   gup_test-fast     PIN_FAST_BENCHMARK, the same call.
 * A kernel that refuses long-term write pins of ext4/xfs MAP_SHARED files
 * (6.5+, pl_pin_refusal()) has the refusal checked once per file kind and
 * only the short-term methods timed on those files.
 * gup_test needs CONFIG_GUP_TEST: the base and patched builds have it,
 * Debian's stock config does not, so on stock only the mockdma methods
 * run and P1 has no anchor there (said so, never faked).
 *
 * Rounds are interleaved (every method once per round, in turn) so that
 * a machine slowed down for a moment slows all of them; an untimed
 * warm-up round comes first.  On a kernel with
 * the series booted on (pl_series_live()) every round runs once with
 * parking on and once off (/proc/sys/vm/dma_pin_lru): the P2 ratio is on /
 * off of the same method on the same buffer in the same boot.  Booted
 * without the parameter (make bench's patched+off boot) one pass runs,
 * dma_pin_lru=-: what "off" costs against base.
 *
 * Asserted (KTAP), never a time: every pin covered its whole buffer, a THP
 * buffer is THP-backed and a 4 KiB one is not (kpageflags, sampled every
 * 2 MiB), no injection kprobe was live while timing, and the pin counters
 * balance afterwards (pl_bench_begin()/pl_bench_end()).  The numbers are
 * "# BENCH table=pin-cost" lines (ns per page: median, min, max over the
 * rounds); ci/report.py forms the ratios.  A "table=pin-registration"
 * adds what one registration costs whatever its size (registration(); on
 * a kernel with the series live, with parking on: dma_pin_lru=1).
 *
 * Before pinlab c1e0219 mockdma made one PIN per B pages (a handle each)
 * against gup_test's one ioctl: its per-registration cost, spread over B
 * pages, was most of what P1 missed by (B 32: 0.42-0.64).  The cells now
 * make the same GUP calls on both sides and the key says so (gup_call=B,
 * was batch=B), so make compare does not match the two shapes.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "lib/pl_bench.h"
#include "gup_test.h"		/* the kernel's mm/gup_test.h, ABI of the ioctl */

#define MIB		(1UL << 20)
#define HUGE		(2 * MIB)
#define GUP_TEST	"/sys/kernel/debug/gup_test"
#define FOLL_WRITE_BIT	0x01	/* include/linux/mm.h FOLL_WRITE */
#define MAX_ROUNDS	5

enum method { ML, GL, MF, GF, NR_METHODS };
static const char *const method_name[] = {
	"mockdma-longterm", "gup_test-longterm", "mockdma-fast", "gup_test-fast",
};

static int is_gup_test(enum method m)
{
	return m == GL || m == GF;
}

static int is_longterm(enum method m)
{
	return m == ML || m == GL;
}

enum kind { ANON, ANON_THP, MEMFD, EXT4, XFS, NR_KINDS };
static const char *const kind_name[] = {
	"anon", "anon", "memfd", "ext4-shared", "xfs-shared",
};

struct region {
	enum kind kind;
	int lt_refused;		/* the kernel refuses long-term write pins of it */
	struct pl_buf buf;	/* memfd and files: the library's backing */
	char *map, *addr;	/* anonymous: our own mapping */
	size_t map_len, len;
};

static int region_setup(struct region *r, enum kind k, size_t len)
{
	static const enum pl_mem lib_mem[] = {
		[MEMFD] = PL_MEM_MEMFD, [EXT4] = PL_MEM_EXT4_SHARED,
		[XFS] = PL_MEM_XFS_SHARED,
	};
	int ret;

	memset(r, 0, sizeof(*r));
	r->buf.fd = -1;
	r->kind = k;
	r->len = len;
	if (k != ANON && k != ANON_THP) {
		r->lt_refused = !!pl_pin_refusal(lib_mem[k], MOCKDMA_METHOD_PIN,
						 MOCKDMA_PIN_LONGTERM |
						 MOCKDMA_PIN_WRITE);
		ret = pl_buf_setup_len(&r->buf, lib_mem[k], len);
		r->addr = r->buf.addr;
		/*
		 * The library faults files in for reading: write them too, and
		 * write them back now rather than while timing (the warm-up
		 * round's write faults dirty them again).
		 */
		if (!ret && k != MEMFD) {
			memset(r->addr, 0x5a, len);
			ret = fsync(r->buf.fd) ? -errno : 0;
		}
		return ret;
	}
	/* Over-allocate by 2 MiB to carve out a PMD-aligned range. */
	r->map_len = len + HUGE;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return -errno;
	}
	r->addr = (char *)(((unsigned long)r->map + HUGE - 1) & ~(HUGE - 1));
	if (madvise(r->addr, len, k == ANON_THP ? MADV_HUGEPAGE :
		    MADV_NOHUGEPAGE))
		return -errno;
	memset(r->addr, 0x5a, len);
	return 0;
}

static void region_teardown(struct region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	else
		pl_buf_teardown(&r->buf);
}

/*
 * The first page of every 2 MiB is in a THP for an anon-thp buffer, and
 * no page is for the others (4 KiB pages: what the cell claims to time).
 */
static int region_pages_as_named(struct region *r)
{
	size_t off, thp = 0, n = 0;

	for (off = 0; off < r->len; off += HUGE, n++) {
		__u64 f;

		if (pl_page_flags(r->addr + off, &f))
			return 0;
		thp += (f >> PL_KPF_THP) & 1;
	}
	if (thp != (r->kind == ANON_THP ? n : 0))
		ksft_print_msg("%s %s: %zu of %zu sampled pages in a THP\n",
			       kind_name[r->kind],
			       r->kind == ANON_THP ? "thp" : "4k", thp, n);
	return thp == (r->kind == ANON_THP ? n : 0);
}

/*
 * One pin + unpin of the whole region in @batch-page GUP calls: ns, < 0 on
 * error.  mockdma's calls are set by measure() (gup_chunk_pages).
 */
static double pin_once(enum method m, int mfd, int gfd, struct region *r,
		       size_t batch)
{
	double t0 = pl_now_ns(), t;
	__u32 handle;
	int ret;

	if (is_gup_test(m)) {
		struct gup_test g = {
			.addr = (unsigned long)r->addr,
			.size = r->len,
			.nr_pages_per_call = batch,
			.gup_flags = FOLL_WRITE_BIT,
		};

		if (ioctl(gfd, m == GL ? PIN_LONGTERM_BENCHMARK :
			  PIN_FAST_BENCHMARK, &g))
			return -1;
		t = pl_now_ns() - t0;
		/* gup_test stops at the first short pin and says how far it got. */
		if (g.size != r->len) {
			ksft_print_msg("%s: covered %llu of %zu bytes\n",
				       method_name[m],
				       (unsigned long long)g.size, r->len);
			return -1;
		}
		return t;
	}
	/* A PIN takes the whole range or nothing (MOCKDMA_ERRNOS_PIN). */
	ret = pl_pin(mfd, r->addr, r->len,
		     m == ML ? MOCKDMA_METHOD_PIN : MOCKDMA_METHOD_PIN_FAST,
		     (m == ML ? MOCKDMA_PIN_LONGTERM : 0) | MOCKDMA_PIN_WRITE,
		     &handle);
	if (ret) {
		ksft_print_msg("%s: PIN: %s\n", method_name[m], strerror(-ret));
		return -1;
	}
	ret = pl_unpin(mfd, handle, 0);
	if (ret) {
		ksft_print_msg("%s: UNPIN: %s\n", method_name[m], strerror(-ret));
		return -1;
	}
	return pl_now_ns() - t0;
}

/* mockdma's pages per GUP call; 0 when set, else -1 (said why). */
static int set_gup_chunk(long pages)
{
	char v[32];
	int ret;

	snprintf(v, sizeof(v), "%ld", pages);
	ret = pl_write_file(PL_GUP_CHUNK, v);
	if (ret)
		ksft_print_msg("%s = %s: %s\n", PL_GUP_CHUNK, v, strerror(-ret));
	return ret ? -1 : 0;
}

struct cell {
	double v[2][NR_METHODS][MAX_ROUNDS];	/* [parking off/on][method] */
};

/*
 * Every method on @r in @rounds interleaved rounds, each round with
 * parking on then off when the kernel has the switch.  0, or -1.
 */
static int measure(int mfd, int gfd, struct region *r, size_t batch,
		   int rounds, int series, struct cell *c)
{
	long chunk0 = pl_read_long(PL_GUP_CHUNK);
	int i, s, m, ret = -1;

	if (chunk0 <= 0) {
		ksft_print_msg("%s unreadable\n", PL_GUP_CHUNK);
		return -1;
	}
	if (set_gup_chunk(batch))
		return -1;
	/* Round -1 is a warm-up, not kept: first touches of the page arrays. */
	for (i = -1; i < rounds; i++)
		for (s = series ? 1 : 0; s >= 0; s--) {
			if (series && pl_series_switch(s))
				goto out;
			for (m = 0; m < NR_METHODS; m++) {
				if ((is_gup_test(m) && gfd < 0) ||
				    (is_longterm(m) && r->lt_refused))
					continue;
				double t = pin_once(m, mfd, gfd, r, batch);

				if (t < 0)
					goto out;
				if (i >= 0)
					c->v[s][m][i] = t;
			}
		}
	ret = 0;
out:
	if (series && pl_series_switch(1))
		ret = -1;
	if (set_gup_chunk(chunk0))
		ret = -1;
	return ret;
}

static void print_cell(struct region *r, size_t batch, int rounds,
		       int series, int gup, struct cell *c)
{
	size_t np = r->len / pl_page_size;
	int s, m, i;

	for (s = series ? 1 : 0; s >= 0; s--)
		for (m = 0; m < NR_METHODS; m++) {
			struct pl_stat st;
			double v[MAX_ROUNDS];

			if ((is_gup_test(m) && !gup) ||
			    (is_longterm(m) && r->lt_refused))
				continue;
			for (i = 0; i < rounds; i++)
				v[i] = c->v[s][m][i] / np;
			pl_stat_of(v, rounds, &st);
			printf("# BENCH table=pin-cost mem=%s page=%s size_mib=%zu gup_call=%zu method=%s dma_pin_lru=%s |",
			       kind_name[r->kind],
			       r->kind == ANON_THP ? "thp" : "4k",
			       r->len / MIB, batch, method_name[m],
			       series ? (s ? "1" : "0") : "-");
			pl_stat_print("ns_per_page", &st);
			printf("\n");
		}
}

/*
 * The fixed cost of one registration: PIN + UNPIN of a one-page buffer
 * (mockdma: two ioctls, a handle, its page array, the memlock charge)
 * against gup_test's one ioctl that pins and unpins one page, REG_CALLS
 * times per round.  No goal: P1's cells spread it over the whole buffer;
 * this says what a driver registering many small regions pays for each.
 * 0, or -1.
 */
#define REG_CALLS	200

static int registration(int mfd, int gfd, int rounds, int series)
{
	double v[NR_METHODS][MAX_ROUNDS];
	struct region r;
	int i, j, m, ret = region_setup(&r, ANON, pl_page_size);

	if (ret) {
		ksft_print_msg("registration: set-up: %s\n", strerror(-ret));
		region_teardown(&r);
		return -1;
	}
	ret = -1;
	for (i = -1; i < rounds; i++)
		for (m = 0; m < NR_METHODS; m++) {
			double t0 = pl_now_ns();

			if (is_gup_test(m) && gfd < 0)
				continue;
			for (j = 0; j < REG_CALLS; j++)
				if (pin_once(m, mfd, gfd, &r, 1) < 0)
					goto out;
			if (i >= 0)
				v[m][i] = (pl_now_ns() - t0) / REG_CALLS;
		}
	for (m = 0; m < NR_METHODS; m++) {
		struct pl_stat st;

		if (is_gup_test(m) && gfd < 0)
			continue;
		pl_stat_of(v[m], rounds, &st);
		printf("# BENCH table=pin-registration mem=anon page=4k pages=1 method=%s dma_pin_lru=%s |",
		       method_name[m], series ? "1" : "-");
		pl_stat_print("ns_per_call", &st);
		printf("\n");
	}
	ret = 0;
out:
	region_teardown(&r);
	return ret;
}

/* No writeback of a dirty buffer while timing (see the header). */
static const struct pl_knob quiet_writeback[] = {
	{ "/proc/sys/vm/dirty_writeback_centisecs", "0" },
	{ "/proc/sys/vm/dirty_bytes", "1073741824" },
	{ "/proc/sys/vm/dirty_background_bytes", "805306368" },
};

int main(void)
{
	static const size_t full_sizes[] = { 1, 16, 256, 1024 };
	static const size_t full_batches[] = { 32, 512, 8192 };
	static const size_t smoke_sizes[] = { 1 };
	static const size_t smoke_batches[] = { 64 };
	int full = pl_bench_full(), mfd = pl_open_or_skip();
	int rounds = full ? MAX_ROUNDS : 2;
	const size_t *sizes = full ? full_sizes : smoke_sizes;
	const size_t *batches = full ? full_batches : smoke_batches;
	size_t nsizes = full ? 4 : 1, nbatches = full ? 3 : 1, si, bi;
	int series = pl_series_live();
	struct pl_bench_guard guard;
	int gfd, k, gup_ok;

	ksft_set_plan(1 + NR_KINDS + 2);
	ksft_print_msg("[INFO] %s run: %d interleaved rounds per cell; parking switch %s\n",
		       full ? "full" : "smoke", rounds,
		       series ? "live (P2 measured)" :
		       "absent or booted off (no P2 on/off pair)");

	gfd = open(GUP_TEST, O_RDWR);
	if (!pl_kernel_debian()) {
		gup_ok = gfd >= 0;
		ksft_test_result(gup_ok, "gup_test present (CONFIG_GUP_TEST=y in pinlab-guest.config)\n");
	} else {
		gup_ok = gfd < 0 && errno == ENOENT;
		ksft_test_result(gup_ok, "Debian kernel: no gup_test (CONFIG_GUP_TEST is off in Debian's config): P1 has no anchor here\n");
	}
	if (pl_knobs_set(quiet_writeback, ARRAY_SIZE(quiet_writeback)))
		ksft_exit_fail_msg("cannot quiet writeback\n");
	if (pl_bench_begin(&guard))
		ksft_exit_fail_msg("not quiet before timing\n");
	for (k = 0; k < NR_KINDS; k++) {
		int ok = 1, cells = 0, refused = 0;

		/*
		 * 6.5+ refuses the long-term write pin of an ext4/xfs
		 * MAP_SHARED file: checked once (EFAULT, nothing pinned),
		 * then only the short-term methods are timed on it.
		 */
		if (k == EXT4 || k == XFS) {
			enum pl_mem mem = k == EXT4 ? PL_MEM_EXT4_SHARED :
						      PL_MEM_XFS_SHARED;

			refused = pl_refusal_checked(mfd, mem, MOCKDMA_METHOD_PIN,
						     MOCKDMA_PIN_LONGTERM |
						     MOCKDMA_PIN_WRITE,
						     kind_name[k]);
			ok = refused != 0;
		}

		for (si = 0; ok && si < nsizes; si++) {
			struct region r;

			/* 1 GiB of anonymous memory only: see the header. */
			size_t mib = sizes[si];

			if (mib > 256 && k != ANON && k != ANON_THP)
				continue;
			/* A THP buffer is at least one THP. */
			if (k == ANON_THP && mib * MIB < HUGE)
				mib = HUGE / MIB;
			if (region_setup(&r, k, mib * MIB)) {
				ksft_print_msg("%s %zu MiB: set-up: %s\n",
					       kind_name[k], mib,
					       strerror(errno));
				ok = 0;
			}
			ok = ok && region_pages_as_named(&r);
			for (bi = 0; ok && bi < nbatches; bi++) {
				struct cell c;

				/* 1 GiB: the figure's call size only (time). */
				if (mib > 256 && batches[bi] != 512)
					continue;
				memset(&c, 0, sizeof(c));
				ok = !measure(mfd, gfd, &r, batches[bi], rounds,
					      series, &c);
				if (ok)
					print_cell(&r, batches[bi], rounds,
						   series, gfd >= 0, &c);
				cells++;
			}
			ok = ok && region_pages_as_named(&r);
			region_teardown(&r);
		}
		ksft_test_result(ok, "%s %s: %d cells, every pin complete, pages as named%s\n",
				 kind_name[k], k == ANON_THP ? "thp" : "4k",
				 cells, refused > 0 ?
				 " (long-term write pin refused as on 6.5+: short-term methods only)" : "");
	}
	ksft_test_result(!registration(mfd, gfd, rounds, series),
			 "registration: %d one-page PIN + UNPIN calls per method and round, every one complete\n",
			 REG_CALLS);
	pl_knobs_restore();
	ksft_test_result(!pl_bench_end(&guard),
			 "no injection kprobe live while timing; FOLL_PIN counters, mockdma's pinned pages and the series' count balance\n");
	if (gfd >= 0)
		close(gfd);
	close(mfd);
	ksft_finished();
}
