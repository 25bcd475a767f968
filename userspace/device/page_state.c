// SPDX-License-Identifier: GPL-2.0
/*
 * page_state: QUERY's view of each pinned page agrees with the kernel's own
 * oracle, /proc/self/pagemap + /proc/kpageflags (fs/proc/page.c), for the
 * same pfns; the pin is visible (DMA_PINNED, pincount 1 for one FOLL_PIN
 * pin) and gone after unpin (a second pin again counts exactly 1).  Records
 * the LRU and dirty state while pinned and after unpin.
 *
 * LRU can change under us: a freshly faulted page waits in a per-CPU
 * folio batch without PG_lru until the batch drains.  So QUERY is read
 * before and after kpageflags, and LRU/ACTIVE are compared only where the
 * two QUERY reads agree.
 */
#include <fcntl.h>
#include <linux/kernel-page-flags.h>

#include "lib/pinlab.h"

#define LT_W (MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)

struct flag_pair { __u32 query; int kpf; int racy; };

static const struct flag_pair pairs[] = {
	{ MOCKDMA_PAGE_LRU, KPF_LRU, 1 },
	{ MOCKDMA_PAGE_ACTIVE, KPF_ACTIVE, 1 },
	{ MOCKDMA_PAGE_DIRTY, KPF_DIRTY, 0 },
	{ MOCKDMA_PAGE_WRITEBACK, KPF_WRITEBACK, 0 },
	{ MOCKDMA_PAGE_ANON, KPF_ANON, 0 },
	{ MOCKDMA_PAGE_UNEVICTABLE, KPF_UNEVICTABLE, 0 },
	{ MOCKDMA_PAGE_HUGETLB, KPF_HUGE, 0 },
};

static void check_mem(int fd, enum pl_mem mem)
{
	struct mockdma_page_state *a, *b, *c;
	struct pl_buf buf;
	size_t np, i, p, mismatches = 0, lru = 0, dirty = 0, lru_after = 0;
	__u32 h, flags;
	int ok = 1, large;
	__u64 *kfs;

	if (pl_buf_setup(&buf, mem)) {
		ksft_test_result_fail("%s: setup\n", pl_mem_name(mem));
		return;
	}
	np = buf.len / pl_page_size;
	large = mem == PL_MEM_THP || mem == PL_MEM_HUGETLB;
	a = calloc(np, sizeof(*a));
	b = calloc(np, sizeof(*b));
	c = calloc(np, sizeof(*c));
	kfs = calloc(np, sizeof(*kfs));
	/*
	 * A long-term write pin, or where the kernel refuses it (6.5+,
	 * ext4/xfs MAP_SHARED: checked) a short-term one: QUERY is the same.
	 */
	flags = pl_device_write_flags(mem, MOCKDMA_METHOD_PIN_FAST);
	ok = a && b && c && kfs &&
	     pl_check_refused(fd, &buf, MOCKDMA_METHOD_PIN_FAST, LT_W) &&
	     !pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST, flags, &h) &&
	     !pl_query(fd, h, 0, np, a);
	for (i = 0; ok && i < np; i++) {
		__u64 pfn = 0, kf = ~0ULL;

		if (pl_page_pfn(buf.addr + i * pl_page_size, &pfn) ||
		    pl_page_flags(buf.addr + i * pl_page_size, &kf))
			ok = 0;
		kfs[i] = kf;

		if (i == np - 1 && pl_query(fd, h, 0, np, b))
			ok = 0;
		if (pfn != a[i].pfn) {
			ksft_print_msg("page %zu: pagemap pfn %#llx, QUERY %#llx\n",
				       i, (unsigned long long)pfn,
				       (unsigned long long)a[i].pfn);
			mismatches++;
			continue;
		}
		if (!(a[i].flags & MOCKDMA_PAGE_DMA_PINNED) || a[i].pincount < 1) {
			ksft_print_msg("page %zu: not seen as pinned\n", i);
			mismatches++;
		}
		lru += !!(a[i].flags & MOCKDMA_PAGE_LRU);
		dirty += !!(a[i].flags & MOCKDMA_PAGE_DIRTY);
		for (p = 0; p < ARRAY_SIZE(pairs); p++) {
			int q = !!(a[i].flags & pairs[p].query);
			int k = !!(kf & (1ULL << pairs[p].kpf));

			if (q != k && !pairs[p].racy) {
				ksft_print_msg("page %zu: flag %#x QUERY %d kpageflags %d\n",
					       i, pairs[p].query, q, k);
				mismatches++;
			}
		}
	}
	/* racy flags: compare where QUERY did not change around the read */
	for (i = 0; ok && i < np; i++)
		for (p = 0; p < ARRAY_SIZE(pairs); p++)
			if (pairs[p].racy &&
			    !((a[i].flags ^ b[i].flags) & pairs[p].query) &&
			    !!(a[i].flags & pairs[p].query) !=
			    !!(kfs[i] & (1ULL << pairs[p].kpf)) &&
			    !!(b[i].flags & pairs[p].query) !=
			    !!(kfs[i] & (1ULL << pairs[p].kpf))) {
				ksft_print_msg("page %zu: flag %#x differs\n",
					       i, pairs[p].query);
				mismatches++;
			}
	if (ok)
		ok &= !pl_unpin(fd, h, 0);
	for (i = 0; ok && i < np; i++) {
		__u64 f;

		ok &= !pl_page_flags(buf.addr + i * pl_page_size, &f);
		lru_after += ok && (f & (1ULL << KPF_LRU));
	}
	/*
	 * A second pin counts exactly its own references, so the first is
	 * gone: one per order-0 page; a large folio's pincount gets one per
	 * pinned subpage (try_grab_folio(.., refs, FOLL_PIN) in mm/gup.c).
	 */
	ok = ok && !pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST, flags, &h);
	if (ok) {
		ok &= !pl_query(fd, h, 0, np, c);
		for (i = 0; ok && i < np; i++)
			if (c[i].pincount != (large ? np : 1)) {
				ksft_print_msg("page %zu: pincount %u after re-pin\n",
					       i, c[i].pincount);
				mismatches++;
				break;
			}
		ok &= !pl_unpin(fd, h, 0);
	}
	ksft_print_msg("[INFO] %s: while pinned %zu/%zu on LRU, %zu dirty; after unpin %zu on LRU\n",
		       pl_mem_name(mem), lru, np, dirty, lru_after);
	free(a);
	free(b);
	free(c);
	free(kfs);
	pl_buf_teardown(&buf);
	ksft_test_result(ok && !mismatches,
			 "%s: QUERY matches pagemap+kpageflags, pin visible then released\n",
			 pl_mem_name(mem));
}

int main(void)
{
	int fd = pl_open_or_skip();
	static const enum pl_mem mems[] = {
		PL_MEM_ANON, PL_MEM_THP, PL_MEM_MEMFD, PL_MEM_HUGETLB,
		PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED,
	};
	size_t i;

	ksft_set_plan(ARRAY_SIZE(mems));
	for (i = 0; i < ARRAY_SIZE(mems); i++)
		check_mem(fd, mems[i]);
	close(fd);
	ksft_finished();
}
