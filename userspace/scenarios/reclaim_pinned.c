// SPDX-License-Identifier: GPL-2.0
/*
 * reclaim_pinned: memcg reclaim around long-term pinned ext4/xfs pages, with
 * the device writing into them at the moment reclaim looks at them.
 *
 * The test runs in a cgroup v2 group with memory.max = 16 MiB, pins 16 pages
 * of a MAP_SHARED file it faulted there (charged to the group), cleans them
 * with fsync, arms mockdma's RECLAIM injection on them (a kprobe on
 * folio_referenced(), which reclaim calls for every folio it considers) and
 * reads a 48 MiB file through the page cache from inside the group
 * (workloads/pagecache-hog.sh).  Recorded before/after: the group's pgscan
 * and pgsteal, each pinned page's pfn and state (QUERY), the injections
 * that fired; then the disk while pinned and after unpin.
 *
 * Stock 6.1: pinned file folios stay on the LRU, so reclaim scans them like
 * any other: every pinned page is examined (16 injections fire), found
 * unfreeable (folio_maybe_dma_pinned() in shrink_folio_list() activates it;
 * a legacy GUP page fails __remove_mapping()'s refcount freeze) and put back,
 * pass after pass.  They stay resident at the same pfns.  The device's bytes
 * written during reclaim do not dirty the pages: the disk stays stale while
 * pinned, a dirtying unpin writes them, a clean unpin loses them.
 *
 * Legacy GUP on ext4 adds the buffer-stripping loss of buffers_stripped:
 * reclaim may release the buffers of a clean GUP page before failing to
 * free it, and a dirtying release of such a page then loses its data in
 * writeback.  How many pages reclaim strips depends on how far it got, so
 * the assertion is exact per page: a page on disk after a dirtying unpin is
 * exactly a page that kept its buffers.
 *
 * On 6.12 (stock612) the long-term write pins are refused with EFAULT
 * (pinlab.h): those cases assert the refusal; legacy GUP as on 6.1.
 *
 * With the series, long-term pinned folios are on the unevictable LRU,
 * which is no list: reclaim never considers them, no injection fires, and
 * the pages hold the bytes they had (nothing written, nothing lost).
 *
 * The long-term pin with a dirtying unpin runs again with the multi-gen LRU
 * switched on (/sys/kernel/mm/lru_gen/enabled; the classic cases switch
 * it off first, Debian's 6.12 boots with it on; both 6.1 kernels build
 * CONFIG_LRU_GEN but leave it off): MGLRU's evict_folios() also hands every
 * folio it isolates to shrink_folio_list() and so to folio_referenced(), so
 * the expectations are the same but for how many pinned folios the stock
 * kernel examines: at least one, and then MGLRU's look-around promotes its
 * neighbours (one of 16 in a typical run where the classic LRU examines all
 * 16).
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define MEMCG_MAX	(16L << 20)
#define HOG_MIB		"48"

/* Which LRU reclaim runs on: "classic", or "mglru" while PL_LRU_GEN is on. */
static const char *lru_impl = "classic";

struct snapshot {
	__u64 pfn[64];
	unsigned char has_private[64];
	size_t lru, private_;
};

static int snap(int fd, __u32 h, size_t np, struct snapshot *s)
{
	struct mockdma_page_state st[64];
	size_t i;
	int ret = pl_query(fd, h, 0, np, st);

	memset(s, 0, sizeof(*s));
	for (i = 0; !ret && i < np; i++) {
		s->pfn[i] = st[i].pfn;
		/* on a list reclaim scans: not unevictable */
		s->lru += (st[i].flags & (MOCKDMA_PAGE_LRU |
					  MOCKDMA_PAGE_UNEVICTABLE)) ==
			  MOCKDMA_PAGE_LRU;
		s->has_private[i] = !!(st[i].flags & MOCKDMA_PAGE_PRIVATE);
		s->private_ += s->has_private[i];
	}
	return ret;
}

static void run_case(int fd, enum pl_mem mem, const char *hog,
		     unsigned int p, int dirty)
{
	const char *const hog_args[] = { hog, HOG_MIB, "1", NULL };
	int ext4 = mem == PL_MEM_EXT4_SHARED, gup = p == PL_PIN_GUP;
	int patched = !gup && pl_kernel_patched();
	long scan0, steal0, scan1, steal1;
	struct snapshot before, after;
	struct pl_census pinned, final;
	struct pl_memcg cg;
	struct pl_buf buf;
	char outcome[48];
	__u64 fired = 0;
	size_t np, want_fired, want_final, i, wrote = 0, misplaced = 0;
	unsigned char in_cache[64] = { 0 };
	char *disk = NULL;
	int ok = 1, kept_pfns, fired_ok;
	__u32 h, seq = 0;

	if (pl_refused_case(fd, mem, pl_pin_kinds[p].method,
			    pl_pin_kinds[p].flags, "%s %s %s unpin-%s",
			    lru_impl, pl_mem_name(mem), pl_pin_kinds[p].name,
			    dirty ? "dirty" : "clean")) {
		printf("# MATRIX table=reclaim lru=%s fs=%s pin=%s unpin=%s | scanned_by_reclaim=- on_lru_after=- stale_while_pinned=- final=REFUSED (EFAULT) pgscan=- pgsteal=-\n",
		       lru_impl, pl_mem_name(mem), pl_pin_kinds[p].name,
		       dirty ? "dirty" : "clean");
		return;
	}
	if (pl_memcg_enter(&cg, "pinlab-reclaim", MEMCG_MAX)) {
		ksft_test_result_fail("%s %s %s: cannot create the memory cgroup\n",
				      lru_impl, pl_mem_name(mem),
				      pl_pin_kinds[p].name);
		return;
	}
	if (pl_buf_setup_pinned(&buf, mem, fd, pl_pin_kinds[p].method,
				pl_pin_kinds[p].flags, &h)) {
		ksft_test_result_fail("%s %s %s: setup\n", lru_impl,
				      pl_mem_name(mem), pl_pin_kinds[p].name);
		pl_memcg_leave(&cg);
		return;
	}
	np = buf.len / pl_page_size;
	ok &= !pl_fsync(buf.fd);
	ok &= !snap(fd, h, np, &before);
	ok &= !pl_inject_arm(fd, h, MOCKDMA_INJECT_RECLAIM, 0, 0, 0,
			     pl_page_size, &seq);
	scan0 = pl_memcg_stat(&cg, "pgscan");
	steal0 = pl_memcg_stat(&cg, "pgsteal");
	ok &= pl_workload("pagecache-hog.sh", hog_args) == 0;
	scan1 = pl_memcg_stat(&cg, "pgscan");
	steal1 = pl_memcg_stat(&cg, "pgsteal");
	ok &= !pl_inject_disarm(fd, h, MOCKDMA_INJECT_RECLAIM, &fired);
	ok &= !snap(fd, h, np, &after);
	kept_pfns = !memcmp(before.pfn, after.pfn, sizeof(before.pfn));

	/* Which pages the device wrote (at the injection): the cache's view. */
	for (i = 0; i < np; i++) {
		in_cache[i] = pl_count_stamped(buf.addr + i * pl_page_size,
					       pl_page_size, h, i, seq) == 1;
		wrote += in_cache[i];
	}
	if (wrote != fired) {
		ksft_print_msg("precondition failed: %llu injections fired but %zu pages hold the device's write\n",
			       fired, wrote);
		ok = 0;
	}

	ok &= !pl_fsync(buf.fd);
	ok &= !pl_disk_census(&buf, h, seq, &pinned);
	ok &= !pl_unpin(fd, h, dirty ? MOCKDMA_UNPIN_DIRTY : 0);
	ok &= !pl_fsync(buf.fd);
	ok &= !pl_disk_census(&buf, h, seq, &final);
	disk = malloc(buf.len);
	if (!disk || pl_disk_read(buf.fd, 0, buf.len, disk, NULL))
		ok = 0;
	pl_buf_teardown(&buf);
	pl_memcg_leave(&cg);

	/*
	 * Page by page, which device pages must be on disk after the unpin:
	 * with a dirtying unpin every page the device wrote, except (legacy
	 * GUP on ext4) one whose buffers reclaim stripped, which writeback
	 * then skips; with a clean unpin none.  Two independent facts per page
	 * (the cache's stamps and PG_private before the unpin, the block
	 * device after it), so no count here is taken from what was measured.
	 */
	for (i = 0; disk && i < np; i++) {
		int want = dirty && in_cache[i] &&
			   (!(ext4 && gup) || after.has_private[i]);
		int got = pl_count_stamped(disk + i * pl_page_size, pl_page_size,
					   h, i, seq) == 1;

		misplaced += want != got;
	}
	free(disk);
	if (misplaced)
		ksft_print_msg("%zu pages on disk differ from what the cache and PG_private say\n",
			       misplaced);
	want_fired = patched ? 0 : np;
	want_final = !dirty || patched ? 0 :
		     ext4 && gup ? after.private_ : np;
	/*
	 * MGLRU on stock: evict_folios() hands every folio it isolates from
	 * the oldest generation to shrink_folio_list() and folio_referenced(),
	 * and the hog (3x memory.max) forces at least one full pass, so at
	 * least one pinned folio is examined; but the look-around
	 * (lru_gen_look_around() from folio_referenced()) promotes the
	 * folios mapped next to it, so how many of the other 15 age back into
	 * the oldest generation within one hog pass is not fixed: [1, np].
	 */
	if (!patched && !strcmp(lru_impl, "mglru")) {
		fired_ok = fired >= 1 && fired <= np;
		want_fired = fired;
		want_final = dirty ? fired : 0;
	} else {
		fired_ok = fired == want_fired;
	}
	ok &= misplaced == 0;
	ksft_print_msg("[INFO] %s %s %s unpin-%s: pgscan +%ld pgsteal +%ld; pinned pages on LRU %zu -> %zu, PG_private %zu -> %zu, pfns %s; %llu reclaim injections; disk fresh %zu while pinned, %zu after unpin\n",
		       lru_impl, pl_mem_name(mem), pl_pin_kinds[p].name, dirty ? "dirty" : "clean",
		       scan1 - scan0, steal1 - steal0, before.lru, after.lru,
		       before.private_, after.private_,
		       kept_pfns ? "unchanged" : "CHANGED", fired, pinned.fresh,
		       final.fresh);
	if (!fired || final.fresh == fired)
		snprintf(outcome, sizeof(outcome), "OK");
	else
		snprintf(outcome, sizeof(outcome), "DATA LOSS (%zu)",
			 (size_t)fired - final.fresh);
	printf("# MATRIX table=reclaim lru=%s fs=%s pin=%s unpin=%s | scanned_by_reclaim=%llu/%zu on_lru_after=%zu/%zu stale_while_pinned=%zu final=%s pgscan=%ld pgsteal=%ld\n",
	       lru_impl, pl_mem_name(mem), pl_pin_kinds[p].name,
	       dirty ? "dirty" : "clean",
	       fired, np, after.lru, np, (size_t)fired - pinned.fresh,
	       outcome, scan1 - scan0, steal1 - steal0);
	ksft_test_result(ok && scan1 > scan0 && steal1 > steal0 && kept_pfns &&
			 fired_ok && pinned.fresh == 0 &&
			 final.fresh == want_final,
			 "%s %s %s unpin-%s: pinned pages resident under memcg reclaim, the device's pages on disk exactly as expected\n",
			 lru_impl, pl_mem_name(mem), pl_pin_kinds[p].name,
			 dirty ? "dirty" : "clean");
}

/*
 * The SHRINKER point: "echo 2 > drop_caches" runs drop_slab(), which calls
 * every shrinker at priority 0, mockdma's included: each armed page is
 * written exactly once, and the write shows through the mapping.  The LRU
 * plays no part, so this holds with or without the series.
 */
static void shrinker_case(int fd, enum pl_mem mem)
{
	struct pl_buf buf;
	__u64 fired = 0;
	__u32 h, seq = 0;
	size_t np;
	int ok = 1;

	/* the injection point on trial: a short-term pin where refused */
	if (pl_buf_setup_device_pin(&buf, mem, fd, MOCKDMA_METHOD_PIN_FAST, &h)) {
		ksft_test_result_fail("%s shrinker: setup\n", pl_mem_name(mem));
		return;
	}
	np = buf.len / pl_page_size;
	ok &= !pl_inject_arm(fd, h, MOCKDMA_INJECT_SHRINKER, 0, 0, 0,
			     pl_page_size, &seq);
	ok &= pl_count_stamped(buf.addr, buf.len, h, 0, seq) == 0;
	ok &= !pl_write_file("/proc/sys/vm/drop_caches", "2");
	ok &= !pl_inject_disarm(fd, h, MOCKDMA_INJECT_SHRINKER, &fired);
	ok &= pl_count_stamped(buf.addr, buf.len, h, 0, seq) == np;
	ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	pl_buf_teardown(&buf);
	ksft_test_result(ok && fired == np,
			 "%s: drop_caches runs mockdma's shrinker, which writes all %zu armed pages once\n",
			 pl_mem_name(mem), np);
}

int main(void)
{
	static const enum pl_mem mems[] = {
		PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED,
	};
	const char *ext4 = getenv("PINLAB_EXT4"), *xfs = getenv("PINLAB_XFS");
	char hog[2][300];
	int fd = pl_open_or_skip();
	unsigned int m, p;
	int dirty;

	ksft_set_plan(ARRAY_SIZE(mems) * (PL_PIN_KINDS * 2 + 2));
	/* One hog file per file system, written outside the cgroup. */
	snprintf(hog[0], sizeof(hog[0]), "%s/pinlab-hog", ext4 ? ext4 : "/mnt/ext4");
	snprintf(hog[1], sizeof(hog[1]), "%s/pinlab-hog", xfs ? xfs : "/mnt/xfs");
	/* Debian's 6.12 boots with MGLRU on (CONFIG_LRU_GEN_ENABLED=y). */
	if (!access(PL_LRU_GEN, F_OK) && pl_lru_gen_switch(0))
		ksft_exit_fail_msg("cannot switch %s off\n", PL_LRU_GEN);
	for (m = 0; m < ARRAY_SIZE(mems); m++) {
		const char *const args[] = { hog[m], HOG_MIB, "0", NULL };

		if (pl_workload("pagecache-hog.sh", args))
			ksft_exit_fail_msg("cannot create %s\n", hog[m]);
		for (p = 0; p < PL_PIN_KINDS; p++)
			for (dirty = 1; dirty >= 0; dirty--)
				run_case(fd, mems[m], hog[m], p, dirty);
		shrinker_case(fd, mems[m]);
	}

	if (access(PL_LRU_GEN, F_OK)) {
		for (m = 0; m < ARRAY_SIZE(mems); m++)
			ksft_test_result_skip("mglru %s: no %s (CONFIG_LRU_GEN=n)\n",
					      pl_mem_name(mems[m]), PL_LRU_GEN);
	} else if (pl_lru_gen_switch(1)) {
		for (m = 0; m < ARRAY_SIZE(mems); m++)
			ksft_test_result_fail("mglru %s: cannot switch %s on\n",
					      pl_mem_name(mems[m]), PL_LRU_GEN);
	} else {
		lru_impl = "mglru";
		for (m = 0; m < ARRAY_SIZE(mems); m++)
			run_case(fd, mems[m], hog[m], PL_PIN_LONGTERM, 1);
		if (pl_lru_gen_switch(0))
			ksft_exit_fail_msg("cannot switch %s off again\n", PL_LRU_GEN);
	}
	for (m = 0; m < ARRAY_SIZE(mems); m++)
		unlink(hog[m]);
	close(fd);
	ksft_finished();
}
