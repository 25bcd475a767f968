// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: QUERY, the state of each pinned page as mm sees it.
 *
 * The pages cannot go away (the handle holds them), but their state can
 * change at any time: each value is a snapshot read without locks, like
 * /proc/kpageflags gives.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/page-flags.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "mockdma_compat.h"
#include "mockdma_internal.h"

/* Entries filled in kernel memory per copy_to_user(). */
#define MOCKDMA_QUERY_CHUNK	64UL

/*
 * The pins on @page's folio.  A large folio counts them exactly in its
 * pincount (try_grab_folio() in mm/gup.c).  An order-0 folio only has its
 * refcount, raised by GUP_PIN_COUNTING_BIAS per pin, so refcount / bias is
 * the pin count as long as the folio has fewer than 1024 other references.
 * That estimate is meaningless for pages held by legacy get_user_pages()
 * (FOLL_GET adds 1, not the bias), and for the shared zero page, which GUP
 * never pins: both report 0.
 */
static u32 mockdma_pincount(const struct mockdma_handle *h, struct page *page,
			    struct folio *folio)
{
	if (is_zero_page(page))
		return 0;
	if (folio_test_large(folio))
		return mockdma_large_folio_pincount(folio);
	if (h->method == MOCKDMA_METHOD_GUP)
		return 0;
	return (u32)folio_ref_count(folio) / GUP_PIN_COUNTING_BIAS;
}

static u32 mockdma_page_flags(struct folio *folio)
{
	unsigned long mapping = (unsigned long)READ_ONCE(folio->mapping);
	u32 flags = 0;

	if (folio_test_lru(folio))
		flags |= MOCKDMA_PAGE_LRU;
	if (folio_test_active(folio))
		flags |= MOCKDMA_PAGE_ACTIVE;
	if (folio_test_unevictable(folio))
		flags |= MOCKDMA_PAGE_UNEVICTABLE;
	if (folio_test_dirty(folio))
		flags |= MOCKDMA_PAGE_DIRTY;
	if (folio_test_writeback(folio))
		flags |= MOCKDMA_PAGE_WRITEBACK;
	if (folio_test_private(folio))
		flags |= MOCKDMA_PAGE_PRIVATE;
	/*
	 * folio->mapping is tagged PAGE_MAPPING_ANON for anonymous folios
	 * (KSM included); an untagged non-NULL mapping is an address_space:
	 * page cache, shmem/tmpfs included.  A page-cache folio truncated
	 * while pinned has a NULL mapping and is neither.
	 */
	if (folio_test_anon(folio))
		flags |= MOCKDMA_PAGE_ANON;
	else if (mapping && !(mapping & PAGE_MAPPING_FLAGS))
		flags |= MOCKDMA_PAGE_FILE;
	if (folio_test_swapbacked(folio))
		flags |= MOCKDMA_PAGE_SWAPBACKED;
	/* Any large folio but hugetlb; constant false without THP support. */
	if (mockdma_folio_test_thp(folio))
		flags |= MOCKDMA_PAGE_THP;
	if (folio_test_hugetlb(folio))
		flags |= MOCKDMA_PAGE_HUGETLB;
	if (folio_maybe_dma_pinned(folio))
		flags |= MOCKDMA_PAGE_DMA_PINNED;
	if (folio_test_locked(folio))
		flags |= MOCKDMA_PAGE_LOCKED;
	if (folio_test_uptodate(folio))
		flags |= MOCKDMA_PAGE_UPTODATE;
	if (folio_test_mlocked(folio))
		flags |= MOCKDMA_PAGE_MLOCKED;
	if (folio_test_large(folio))
		flags |= MOCKDMA_PAGE_LARGE;
	return flags;
}

static void mockdma_page_state(const struct mockdma_handle *h,
			       struct page *page, bool show_pfn,
			       struct mockdma_page_state *st)
{
	struct folio *folio = page_folio(page);

	*st = (struct mockdma_page_state) {
		/* 0 for an unprivileged opener, as /proc/pid/pagemap does */
		.pfn = show_pfn ? page_to_pfn(page) : 0,
		.refcount = (u32)folio_ref_count(folio),
		.mapcount = (u32)max(mockdma_page_mapcount(page), 0),
		.pincount = mockdma_pincount(h, page, folio),
		.flags = mockdma_page_flags(folio),
	};
}

/**
 * mockdma_query_pages() - report the state of pinned pages
 * @h:     handle; the caller holds a reference
 * @first: first page index, below @h->npages
 * @count: entries to write, non-zero, @first + @count at most @h->npages
 * @out:   user array of @count entries
 * @show_pfn: report pfns (else 0: the opener lacked CAP_SYS_ADMIN)
 *
 * Context: process context.
 * Return: 0, -ENOMEM, -EFAULT, or -EINTR on a fatal signal.
 */
int mockdma_query_pages(struct mockdma_handle *h, u64 first, u64 count,
			struct mockdma_page_state __user *out, bool show_pfn)
{
	struct mockdma_page_state *buf;
	u64 done, i, nr;
	int ret = 0;

	buf = kmalloc_array(min_t(u64, count, MOCKDMA_QUERY_CHUNK),
			    sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	for (done = 0; done < count; done += nr) {
		nr = min_t(u64, count - done, MOCKDMA_QUERY_CHUNK);
		for (i = 0; i < nr; i++)
			mockdma_page_state(h, h->pages[first + done + i],
					   show_pfn, &buf[i]);
		if (copy_to_user(out + done, buf, nr * sizeof(*buf))) {
			ret = -EFAULT;
			break;
		}
		cond_resched();
		if (done + nr < count && fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
	}

	kfree(buf);
	return ret;
}
