// SPDX-License-Identifier: GPL-2.0
/*
 * pin_bench: what a long-term pin costs, measured in one boot.
 *
 * 16384 pages (64 MiB) of anonymous memory and of an ext4 MAP_SHARED file,
 * prefaulted and dirty, are pinned and unpinned whole, FOLL_LONGTERM |
 * FOLL_WRITE, 1024 pages per pin_user_pages() call, by two pinners:
 *
 *  - mockdma, METHOD_PIN (pin_user_pages() under the mmap lock), unpin
 *    without dirtying: what a driver pays, ioctl, page array and
 *    RLIMIT_MEMLOCK charging included;
 *  - the kernel's own gup_test, PIN_LONGTERM_BENCHMARK (the same GUP call,
 *    same chunk, unpin_user_pages()): the anchor.  CONFIG_GUP_TEST is off
 *    in Debian's config, so the anchor exists on the patched build only.
 *
 * Both are timed by wall clock around the ioctls (gup_test's own in-kernel
 * get/put times are printed too); each figure is the median of ROUNDS
 * interleaved rounds.  Printed ratios, each from numbers of this boot:
 *   mockdma / gup_test             the driver's overhead over bare GUP
 *   dma_pin_lru=1 / dma_pin_lru=0   what parking off the LRU costs (series)
 *   ext4-shared / anon             file pages against anonymous ones
 *
 * TCG makes absolute times meaningless; ratios within one boot are what a
 * reader may compare.  Asserted, as facts rather than timings: every pin
 * covered the whole range, the FOLL_PIN counters and mockdma's pinned-page
 * count balance afterwards, and (series) nr_dma_pinned_offlru is back at
 * its start.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "lib/pinlab.h"
#include "gup_test.h"		/* the kernel's mm/gup_test.h, ABI of the ioctl */

#define NPAGES		16384UL
#define CHUNK		1024	/* mockdma's MOCKDMA_GUP_CHUNK */
#define ROUNDS		7
#define GUP_TEST	"/sys/kernel/debug/gup_test"
#define SWITCH		"/proc/sys/vm/dma_pin_lru"
#define FOLL_WRITE_BIT	0x01	/* include/linux/mm.h FOLL_WRITE */

enum pinner { MOCKDMA, GUPTEST, NR_PINNERS };
static const char *const pinner_name[] = { "mockdma", "gup_test" };

struct region {
	const char *name;
	char *addr;
	size_t len;
	int fd;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int region_setup(struct region *r, int file)
{
	const char *dir = getenv("PINLAB_EXT4") ? getenv("PINLAB_EXT4") :
						  "/mnt/ext4";
	size_t off;

	r->len = NPAGES * pl_page_size;
	r->fd = -1;
	r->name = file ? "ext4-shared" : "anon";
	if (file) {
		r->fd = open(dir, O_TMPFILE | O_RDWR, 0600);
		if (r->fd < 0 || fallocate(r->fd, 0, 0, r->len))
			return -errno;
	}
	r->addr = mmap(NULL, r->len, PROT_READ | PROT_WRITE,
		       file ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS, r->fd, 0);
	if (r->addr == MAP_FAILED)
		return -errno;
	/*
	 * Dirty every page through the mapping: the pins then find writable
	 * PTEs and measure GUP, not page faults.  No THP: 4 KiB pages are
	 * what a file mapping gets, and the anonymous run should match.
	 */
	madvise(r->addr, r->len, MADV_NOHUGEPAGE);
	for (off = 0; off < r->len; off += pl_page_size)
		r->addr[off] = 1;
	return 0;
}

static void region_teardown(struct region *r)
{
	if (r->addr && r->addr != MAP_FAILED)
		munmap(r->addr, r->len);
	if (r->fd >= 0)
		close(r->fd);
}

/* One pin + unpin of the whole region; wall time in us, < 0 on error. */
static double pin_once(enum pinner who, int mfd, int gfd, struct region *r)
{
	double t0, t;

	if (who == MOCKDMA) {
		__u32 h;

		t0 = now_us();
		if (pl_pin(mfd, r->addr, r->len, MOCKDMA_METHOD_PIN,
			   MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h))
			return -1;
		if (pl_unpin(mfd, h, 0))
			return -1;
		return now_us() - t0;
	}

	struct gup_test g = {
		.addr = (unsigned long)r->addr,
		.size = r->len,
		.nr_pages_per_call = CHUNK,
		.gup_flags = FOLL_WRITE_BIT,
	};

	t0 = now_us();
	if (ioctl(gfd, PIN_LONGTERM_BENCHMARK, &g))
		return -1;
	t = now_us() - t0;
	/* gup_test stops at the first short pin and reports what it covered. */
	return g.size == r->len ? t : -1;
}

/*
 * ROUNDS interleaved rounds of every available pinner on @r; medians into
 * @us[pinner] (0 when a pinner is absent).  0 or -1 if a pin failed.
 */
static int measure(int mfd, int gfd, struct region *r, double us[NR_PINNERS])
{
	double v[NR_PINNERS][ROUNDS];
	int i, p;

	for (i = 0; i < ROUNDS; i++)
		for (p = 0; p < NR_PINNERS; p++) {
			if (p == GUPTEST && gfd < 0) {
				v[p][i] = 0;
				continue;
			}
			v[p][i] = pin_once(p, mfd, gfd, r);
			if (v[p][i] < 0)
				return -1;
		}
	for (p = 0; p < NR_PINNERS; p++)
		us[p] = median(v[p], ROUNDS);
	return 0;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

int main(void)
{
	int mfd = pl_open_or_skip();
	int patched = pl_kernel_patched();
	/* [mem][switch on/off][pinner]; stock runs only "switch on" = stock */
	double us[2][2][NR_PINNERS] = { 0 };
	long acq0, rel0, off0;
	int gfd, m, s, p, ok;

	ksft_set_plan(2 + 2 + 1);
	ksft_print_msg("[INFO] kernel: %s; %lu pages, %d pages per GUP call, median of %d rounds\n",
		       patched ? "pin-off-LRU series" : "stock", NPAGES, CHUNK,
		       ROUNDS);

	gfd = open(GUP_TEST, O_RDWR);
	if (pl_kernel() != PL_KERNEL_STOCK)
		ksft_test_result(gfd >= 0, "gup_test present (CONFIG_GUP_TEST=y in pinlab-guest.config)\n");
	else
		ksft_test_result(gfd < 0 && errno == ENOENT,
				 "stock kernel: no gup_test (CONFIG_GUP_TEST is off in Debian's config)\n");

	acq0 = pl_vmstat("nr_foll_pin_acquired");
	rel0 = pl_vmstat("nr_foll_pin_released");
	off0 = pl_series_pinned_pages();

	for (m = 0; m < 2; m++) {
		struct region r = { 0 };

		ok = !region_setup(&r, m);
		for (s = 0; ok && s < 1 + patched; s++) {
			if (patched)
				ok &= !pl_series_switch(!s);
			ok &= !measure(mfd, gfd, &r, us[m][s]);
		}
		if (patched)
			ok &= !pl_series_switch(1);
		ksft_test_result(ok, "%s: %d rounds of whole-range long-term pins, every pin complete\n",
				 r.name ? r.name : "?", ROUNDS);
		for (s = 0; ok && s < 1 + patched; s++)
			for (p = 0; p < NR_PINNERS; p++) {
				char vs_gup[16] = "-", vs_off[16] = "-";

				if (!us[m][s][p])
					continue;

				if (us[m][s][GUPTEST])
					snprintf(vs_gup, sizeof(vs_gup), "%.2f",
						 ratio(us[m][s][p], us[m][s][GUPTEST]));
				if (patched && !s)
					snprintf(vs_off, sizeof(vs_off), "%.2f",
						 ratio(us[m][0][p], us[m][1][p]));
				printf("# MATRIX table=pin_bench mem=%s pinner=%s dma_pin_lru=%s | ns_per_page=%.0f vs_gup_test=%s parked_vs_unparked=%s\n",
				       r.name, pinner_name[p],
				       !patched ? "-" : s ? "0" : "1",
				       us[m][s][p] * 1e3 / NPAGES, vs_gup, vs_off);
			}
		region_teardown(&r);
	}

	for (p = 0; p < NR_PINNERS; p++) {
		if (!us[0][0][p])
			continue;
		printf("# BENCH pinner=%s ext4-shared/anon=%.2f", pinner_name[p],
		       ratio(us[1][0][p], us[0][0][p]));
		if (patched)
			printf(" parked/unparked anon=%.2f ext4-shared=%.2f",
			       ratio(us[0][0][p], us[0][1][p]),
			       ratio(us[1][0][p], us[1][1][p]));
		printf("\n");
	}
	if (patched)
		printf("# BENCH mockdma/gup_test anon=%.2f ext4-shared=%.2f (dma_pin_lru=1), anon=%.2f ext4-shared=%.2f (dma_pin_lru=0)\n",
		       ratio(us[0][0][MOCKDMA], us[0][0][GUPTEST]),
		       ratio(us[1][0][MOCKDMA], us[1][0][GUPTEST]),
		       ratio(us[0][1][MOCKDMA], us[0][1][GUPTEST]),
		       ratio(us[1][1][MOCKDMA], us[1][1][GUPTEST]));

	ksft_test_result(pl_vmstat("nr_foll_pin_acquired") - acq0 ==
			 pl_vmstat("nr_foll_pin_released") - rel0 &&
			 pl_mockdma_stat("pages_pinned") == 0,
			 "FOLL_PIN counters and mockdma's pinned pages balance\n");
	if (patched)
		ksft_test_result(pl_series_pinned_pages() == off0,
				 "nothing left parked off the LRU (nr_dma_pinned_offlru back to its start value)\n");
	else
		ksft_test_result(off0 < 0,
				 "stock kernel: no nr_dma_pinned_offlru in /proc/vmstat\n");
	if (gfd >= 0)
		close(gfd);
	close(mfd);
	ksft_finished();
}
