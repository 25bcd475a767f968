// SPDX-License-Identifier: GPL-2.0
/*
 * wb_window: a device writing into long-term pinned MAP_SHARED ext4/xfs
 * pages before, inside and after their writeback, on every run the same way.
 *
 * For each file system, pin method (pin_user_pages_fast(FOLL_LONGTERM) and
 * legacy get_user_pages()) and unpin mode (unpin_user_pages_dirty_lock() or a
 * clean release), 16 pinned pages go through one of:
 *
 *   before-wb  the device writes, then fsync: the baseline.
 *   in-wb      the device writes generation A, then generation B in two
 *              halves: the first half lands at __folio_start_writeback()
 *              (mockdma's WB_START injection: dirty bit already cleared for
 *              I/O, bio not yet submitted, so that half is in this I/O), the
 *              second at folio_end_writeback() (WB_END: I/O done).  The disk
 *              gets half B over half A: a torn page.
 *   after-wb   fsync cleans the pages, then the device writes.
 *   wb-end     the device writes whole pages at folio_end_writeback() of
 *              the fsync that follows the pin: right after writeback.
 *
 * then fsync twice while still pinned (what the disk has then: "pinned"),
 * unpin, fsync, and read the disk from the block device ("final"); the clean
 * page cache is then evicted (nothing written back) and the file read back,
 * which must agree with the disk (nothing is still pending anywhere).
 *
 * Stock 6.1: a device write never dirties the page (no PTE dirty bit, no
 * ->page_mkwrite, no folio_mark_dirty()), and writeback found the pages
 * through the mapping's dirty tag, which folio_clear_dirty_for_io() cleared.
 * So whatever the device wrote after the I/O was built stays off the disk
 * while pinned, however often fsync runs; only a dirtying unpin
 * (unpin_user_pages_dirty_lock(.., true), or set_page_dirty_lock() for
 * legacy GUP) marks the pages dirty again, and a clean unpin loses it.
 * Legacy GUP behaves the same here: writeback does not look at pins.
 *
 * On 6.12 (stock612) the long-term write pin of these ext4/xfs MAP_SHARED
 * mappings is refused with EFAULT (pinlab.h, writable_file_mapping_allowed()):
 * the long-term cases assert the refusal; legacy GUP is still granted and
 * gives the 6.1 outcomes (writeback and page reclaim ignore pins in 6.12
 * as in 6.1).
 *
 * The same on every kernel: the series (v2) does not touch writeback (v1
 * re-dirtied write-pinned folios at writeback end; patches/DESIGN.md says
 * why that was withdrawn).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>

#include "lib/pinlab.h"

enum scenario { BEFORE_WB, IN_WB, AFTER_WB, WB_END, NR_SCENARIOS };

static const char *const scenario_name[NR_SCENARIOS] = {
	"before-wb", "in-wb", "after-wb", "wb-end",
};

/* The disk while pinned, after two fsyncs: see the header comment. */
static enum pl_state expect_pinned(enum scenario sc)
{
	switch (sc) {
	case BEFORE_WB:
		return PL_FRESH;
	case IN_WB:
		return PL_TORN;
	default:
		return PL_ORIGINAL;
	}
}

static enum pl_state expect_final(enum scenario sc, int dirty)
{
	return dirty ? PL_FRESH : expect_pinned(sc);
}

static void run_case(int fd, enum pl_mem mem, int p, int dirty,
		     enum scenario sc)
{
	__u32 h, seq = 0, seq_a;
	unsigned int half = pl_page_size / 2;
	struct pl_census c_pinned, c_final, c_cache;
	enum pl_state pinned, final, want_pinned, want_final;
	__u64 fired_start = 0, fired_end = 0, want_fired = 0;
	char o1[48], o2[48];
	long stat0 = pl_mockdma_stat("inject_fired_total"), stat1;
	struct pl_buf buf;
	size_t np;
	int ok = 1;

	if (pl_refused_case(fd, mem, pl_pin_kinds[p].method,
			    pl_pin_kinds[p].flags, "%s %s %s unpin-%s",
			    scenario_name[sc], pl_mem_name(mem),
			    pl_pin_kinds[p].name, dirty ? "dirty" : "clean")) {
		printf("# MATRIX table=wb_window scenario=%s fs=%s pin=%s unpin=%s | while_pinned=REFUSED (EFAULT) final=- injections=0\n",
		       scenario_name[sc], pl_mem_name(mem),
		       pl_pin_kinds[p].name, dirty ? "dirty" : "clean");
		return;
	}
	if (pl_buf_setup_pinned(&buf, mem, fd, pl_pin_kinds[p].method,
				pl_pin_kinds[p].flags, &h)) {
		ksft_test_result_fail("%s %s %s %s: setup\n", scenario_name[sc],
				      pl_mem_name(mem), pl_pin_kinds[p].name,
				      dirty ? "dirty" : "clean");
		return;
	}
	np = buf.len / pl_page_size;

	/* The write fault of the FOLL_WRITE pin left the pages dirty. */
	switch (sc) {
	case BEFORE_WB:
		ok &= !pl_dma_write(fd, h, 0, buf.len, 0, &seq);
		break;
	case IN_WB:
		ok &= !pl_dma_write(fd, h, 0, buf.len, 0, &seq_a);
		ok &= !pl_inject_arm(fd, h, MOCKDMA_INJECT_WB_START, 0, 0, 0,
				     half, &seq);
		ok &= !pl_inject_arm(fd, h, MOCKDMA_INJECT_WB_END, 0, 0, half,
				     half, &seq);
		want_fired = 2 * np;
		break;
	case AFTER_WB:
		ok &= !pl_fsync(buf.fd);
		ok &= !pl_dma_write(fd, h, 0, buf.len, 0, &seq);
		break;
	case WB_END:
		ok &= !pl_inject_arm(fd, h, MOCKDMA_INJECT_WB_END, 0, 0, 0,
				     pl_page_size, &seq);
		want_fired = np;
		break;
	default:
		break;
	}
	ok &= !pl_fsync(buf.fd);
	ok &= !pl_fsync(buf.fd);
	/* Precondition: the device's (last) write is in every page. */
	ok &= pl_device_wrote(&buf, h, seq);
	ok &= !pl_disk_census(&buf, h, seq, &c_pinned);

	ok &= !pl_inject_disarm(fd, h, MOCKDMA_INJECT_WB_START, &fired_start);
	ok &= !pl_inject_disarm(fd, h, MOCKDMA_INJECT_WB_END, &fired_end);
	ok &= !pl_unpin(fd, h, dirty ? MOCKDMA_UNPIN_DIRTY : 0);
	ok &= !pl_fsync(buf.fd);
	ok &= !pl_disk_census(&buf, h, seq, &c_final);
	ok &= !pl_drop_cache_census(&buf, h, seq, &c_cache);
	pl_buf_teardown(&buf);

	pinned = pl_census_state(&c_pinned, np);
	final = pl_census_state(&c_final, np);
	want_pinned = expect_pinned(sc);
	want_final = expect_final(sc, dirty);
	if (!ok)
		ksft_print_msg("[INFO] an ioctl or fsync failed\n");
	ksft_print_msg("[INFO] pinned: fresh %zu original %zu torn %zu older %zu; final: fresh %zu original %zu torn %zu; injections fired %llu+%llu\n",
		       c_pinned.fresh, c_pinned.original, c_pinned.torn,
		       c_pinned.older, c_final.fresh, c_final.original,
		       c_final.torn, fired_start, fired_end);
	printf("# MATRIX table=wb_window scenario=%s fs=%s pin=%s unpin=%s | while_pinned=%s final=%s injections=%llu\n",
	       scenario_name[sc], pl_mem_name(mem), pl_pin_kinds[p].name,
	       dirty ? "dirty" : "clean",
	       pl_census_outcome(&c_pinned, np, "STALE", o1, sizeof(o1)),
	       pl_census_outcome(&c_final, np, "DATA LOSS", o2, sizeof(o2)),
	       fired_start + fired_end);
	stat1 = pl_mockdma_stat("inject_fired_total");
	/* Say which fact failed: each is independent of the others. */
	if (stat1 != stat0 + (long)want_fired)
		ksft_print_msg("[INFO] inject_fired_total moved by %ld, want %llu\n",
			       stat1 - stat0, want_fired);
	if (memcmp(&c_cache, &c_final, sizeof(c_cache)))
		ksft_print_msg("[INFO] after eviction the cache reads fresh %zu original %zu torn %zu older %zu, the disk fresh %zu original %zu torn %zu older %zu\n",
			       c_cache.fresh, c_cache.original, c_cache.torn,
			       c_cache.older, c_final.fresh, c_final.original,
			       c_final.torn, c_final.older);
	ksft_test_result(ok && pinned == want_pinned && final == want_final &&
			 fired_start + fired_end == want_fired &&
			 stat1 == stat0 + (long)want_fired &&
			 !memcmp(&c_cache, &c_final, sizeof(c_cache)),
			 "%s %s %s unpin-%s: disk %s while pinned, %s after unpin (%llu injections)\n",
			 scenario_name[sc], pl_mem_name(mem), pl_pin_kinds[p].name,
			 dirty ? "dirty" : "clean", pl_state_name[want_pinned],
			 pl_state_name[want_final], want_fired);
}

int main(void)
{
	static const enum pl_mem mems[] = {
		PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED,
	};
	int fd = pl_open_or_skip();
	unsigned int m, p, sc;
	double ms, slowest = 0;
	struct timespec t0, t1;
	int dirty;

	ksft_set_plan(2 * PL_PIN_KINDS * 2 * NR_SCENARIOS);
	ksft_print_msg("[INFO] kernel: %s\n",
		       pl_kernel_patched() ? "series on (it does not touch writeback)" : "stock");
	for (sc = 0; sc < NR_SCENARIOS; sc++)
		for (m = 0; m < ARRAY_SIZE(mems); m++)
			for (p = 0; p < PL_PIN_KINDS; p++)
				for (dirty = 1; dirty >= 0; dirty--) {
					clock_gettime(CLOCK_MONOTONIC, &t0);
					run_case(fd, mems[m], p, dirty, sc);
					clock_gettime(CLOCK_MONOTONIC, &t1);
					ms = (t1.tv_sec - t0.tv_sec) * 1e3 +
					     (t1.tv_nsec - t0.tv_nsec) / 1e6;
					if (ms > slowest)
						slowest = ms;
				}
	/* The budget: one race case within 1 s of guest time. */
	ksft_print_msg("[INFO] slowest case took %.0f ms of guest time\n",
		       slowest);
	close(fd);
	ksft_finished();
}
