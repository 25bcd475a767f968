/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mockdma: the kernel interfaces that differ between the kernels mockdma is
 * built against (Debian's 6.1 and 6.12), all in this one header.  The rest of
 * the driver calls the mockdma_* names below and never tests a version.
 * Which variant applies is decided by Kbuild from the headers of the tree
 * being built against (MOCKDMA_HAVE_*), not from LINUX_VERSION_CODE.
 *
 *   GUP        6.5 dropped the vmas argument of pin_user_pages() and
 *              get_user_pages(); nothing here ever wanted the vmas.
 *   shrinker   6.7 replaced register_shrinker()/unregister_shrinker() on a
 *              caller-owned struct by shrinker_alloc()/shrinker_register()/
 *              shrinker_free() on an allocated one; both are hidden behind
 *              mockdma_shrinker_create()/mockdma_shrinker_destroy().
 *   kprobes    the probed symbols: __folio_start_writeback() (still the
 *              body of folio_start_writeback() in 6.12, page-flags.h),
 *              folio_end_writeback() (mm/filemap.c) and folio_referenced()
 *              (folio_check_references() and shrink_active_list() in
 *              mm/vmscan.c, the multi-gen LRU's eviction included) are the
 *              same functions with the same first argument in 6.1 and 6.12.
 *              A kernel that renames one gets its name here.
 *   folios     6.3 replaced folio_pincount_ptr() by the folio's _pincount
 *              field (read by folio_maybe_dma_pinned() itself in 6.12);
 *              6.11 dropped folio_test_transhuge(), 6.12 page_mapcount().
 *              folio_maybe_dma_pinned(), page_folio() and is_zero_page()
 *              are the same in both.
 */
#ifndef _MOCKDMA_COMPAT_H
#define _MOCKDMA_COMPAT_H

#include <linux/err.h>
#include <linux/mm.h>
#include <linux/page-flags.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

#define MOCKDMA_KP_WB_START	"__folio_start_writeback"
#define MOCKDMA_KP_WB_END	"folio_end_writeback"
#define MOCKDMA_KP_RECLAIM	"folio_referenced"

/* pin_user_pages() with mmap_lock held by the caller. */
static inline long mockdma_pin_user_pages(unsigned long start,
					  unsigned long nr_pages,
					  unsigned int gup_flags,
					  struct page **pages)
{
#ifdef MOCKDMA_HAVE_GUP_VMAS
	return pin_user_pages(start, nr_pages, gup_flags, pages, NULL);
#else
	return pin_user_pages(start, nr_pages, gup_flags, pages);
#endif
}

/* Legacy get_user_pages() (FOLL_GET) with mmap_lock held by the caller. */
static inline long mockdma_get_user_pages(unsigned long start,
					  unsigned long nr_pages,
					  unsigned int gup_flags,
					  struct page **pages)
{
#ifdef MOCKDMA_HAVE_GUP_VMAS
	return get_user_pages(start, nr_pages, gup_flags, pages, NULL);
#else
	return get_user_pages(start, nr_pages, gup_flags, pages);
#endif
}

typedef unsigned long (*mockdma_shrink_fn)(struct shrinker *shrinker,
					   struct shrink_control *sc);

/**
 * mockdma_shrinker_create() - allocate and register a shrinker
 * @name:  its name in /sys/kernel/debug/shrinker/
 * @count: the count_objects callback
 * @scan:  the scan_objects callback
 * @seeks: DEFAULT_SEEKS or 0 (scan at any priority)
 * @batch: objects per scan_objects call (0: the default)
 *
 * Return: the registered shrinker, or ERR_PTR(-errno).
 */
static inline struct shrinker *
mockdma_shrinker_create(const char *name, mockdma_shrink_fn count,
			mockdma_shrink_fn scan, int seeks, long batch)
{
	struct shrinker *s;
#ifndef MOCKDMA_HAVE_SHRINKER_ALLOC
	int ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return ERR_PTR(-ENOMEM);
#else
	s = shrinker_alloc(0, "%s", name);
	if (!s)
		return ERR_PTR(-ENOMEM);
#endif
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = seeks;
	s->batch = batch;
#ifndef MOCKDMA_HAVE_SHRINKER_ALLOC
	ret = register_shrinker(s, "%s", name);
	if (ret) {
		kfree(s);
		return ERR_PTR(ret);
	}
#else
	shrinker_register(s);
#endif
	return s;
}

/* Unregister and free a shrinker of mockdma_shrinker_create(). */
static inline void mockdma_shrinker_destroy(struct shrinker *s)
{
#ifndef MOCKDMA_HAVE_SHRINKER_ALLOC
	unregister_shrinker(s);
	kfree(s);
#else
	shrinker_free(s);
#endif
}

/* The exact pin count of a large folio (try_grab_folio() in mm/gup.c). */
static inline int mockdma_large_folio_pincount(struct folio *folio)
{
#ifdef MOCKDMA_HAVE_FOLIO_PINCOUNT_PTR
	return atomic_read(folio_pincount_ptr(folio));
#else
	return atomic_read(&folio->_pincount);
#endif
}

/*
 * A large folio that is not hugetlb: THP, or a large page-cache folio.  In
 * 6.1 folio_test_transhuge() was folio_test_head() with THP configured (so
 * also true for an xfs large folio): the same test.
 */
static inline bool mockdma_folio_test_thp(struct folio *folio)
{
	return IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) &&
	       folio_test_large(folio) && !folio_test_hugetlb(folio);
}

/*
 * How many page tables map this page: page_mapcount() where it exists;
 * else what it returned in 6.11, the page's own _mapcount (a page type's
 * value reads as 0) plus the folio's entire (PMD) mappings.
 */
static inline int mockdma_page_mapcount(struct page *page)
{
#ifdef MOCKDMA_HAVE_PAGE_MAPCOUNT
	return page_mapcount(page);
#else
	int mapcount = atomic_read(&page->_mapcount) + 1;

	if (page_mapcount_is_type(mapcount))
		mapcount = 0;
	if (PageCompound(page))
		mapcount += folio_entire_mapcount(page_folio(page));
	return mapcount;
#endif
}

#endif /* _MOCKDMA_COMPAT_H */
