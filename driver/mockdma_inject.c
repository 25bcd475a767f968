// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: fault injection, a device write timed to a point in mm.
 *
 * The races pinlab measures (a device writing into a page while writeback
 * has it, or while reclaim examines it) are too narrow to hit by chance in a
 * test that must give the same answer every run.  An armed page is written
 * by the fake device exactly when the kernel reaches a given point for the
 * page's folio, so the race is hit every time:
 *
 *   WB_START  kprobe on __folio_start_writeback(folio, keep_write).  Every
 *             writeback path in 6.1 (write_cache_pages() users such as
 *             iomap/xfs, and ext4's mpage_prepare_extent_to_map() ->
 *             mpage_submit_page()) calls it after folio_clear_dirty_for_io()
 *             and before the bio holding the folio is submitted, so a write
 *             here lands after the dirty bit was cleared and before the I/O
 *             reads the page: it is on disk after this writeback.
 *   WB_END    kprobe on folio_end_writeback(folio), called by every
 *             filesystem's bio completion before PG_writeback is cleared:
 *             the I/O is done, the folio is clean, and a write here is on no
 *             disk and will not be written back.
 *   RECLAIM   kprobe on folio_referenced(folio, ...), which reclaim calls
 *             for each folio it considers (folio_check_references() from
 *             shrink_folio_list(), and shrink_active_list()), for global and
 *             memcg reclaim alike.
 *   SHRINKER  mockdma's own shrinker: its scan callback fires every page
 *             armed at this point.  Not memcg aware, so only global reclaim
 *             and drop_caches (mode 2) call it.
 *
 * The hooks may run in any context (folio_end_writeback() runs in the bio's
 * completion, often a hard IRQ), so armed pages live in a fixed table under
 * a raw spinlock taken with IRQs off, and firing only stamps the page
 * (mockdma_dma_stamp() without dirtying).  A slot points at its handle
 * without a reference: a handle disarms all its slots under its own lock
 * when it is retired, before its pages can be released, and cannot be armed
 * afterwards (mockdma_handle_retire()).
 *
 * The kprobes are registered at the first ARM of their point and stay until
 * unload; a handler returns at once while nothing is armed at its point.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/ptrace.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>

#include "mockdma_internal.h"

struct mockdma_inject_slot {
	struct mockdma_handle *h;	/* NULL: free */
	struct folio *folio;		/* compared with the hook's argument */
	unsigned long index;		/* page index in the handle */
	u32 point;
	u32 offset;
	u32 length;
	u32 seq;
};

static struct mockdma_inject_slot mockdma_slots[MOCKDMA_INJECT_MAX_PAGES];
static DEFINE_RAW_SPINLOCK(mockdma_slots_lock);
/* Slots in use per point: the handlers' lockless fast path. */
static atomic_t mockdma_armed_at[MOCKDMA_INJECT_COUNT];

/* Free @s (a slot in use) and count it as fired or not. */
static void mockdma_slot_free(struct mockdma_inject_slot *s, bool fired)
{
	lockdep_assert_held(&mockdma_slots_lock);
	if (fired) {
		atomic64_inc(&s->h->inject_fired[s->point]);
		atomic64_inc(&mockdma_stats.inject_fired_total);
		atomic64_inc(&mockdma_stats.inject_fired[s->point]);
	}
	atomic_dec(&s->h->inject_armed);
	atomic_dec(&mockdma_armed_at[s->point]);
	atomic64_dec(&mockdma_stats.inject_armed);
	s->h = NULL;
}

/*
 * Fire every page armed at @point that belongs to @folio, or every page
 * armed at @point if @folio is NULL.  Returns the number fired.
 */
static unsigned long mockdma_inject_fire(u32 point, struct folio *folio)
{
	unsigned long flags, fired = 0;
	unsigned int i;

	if (!atomic_read(&mockdma_armed_at[point]))
		return 0;

	raw_spin_lock_irqsave(&mockdma_slots_lock, flags);
	for (i = 0; i < ARRAY_SIZE(mockdma_slots); i++) {
		struct mockdma_inject_slot *s = &mockdma_slots[i];

		if (!s->h || s->point != point || (folio && s->folio != folio))
			continue;
		mockdma_dma_stamp(s->h, s->index, s->offset, s->length, s->seq,
				  false);
		mockdma_slot_free(s, true);
		fired++;
	}
	raw_spin_unlock_irqrestore(&mockdma_slots_lock, flags);
	return fired;
}

/* All three probed functions take the folio as their first argument. */
static int mockdma_kp_wb_start(struct kprobe *p, struct pt_regs *regs)
{
	mockdma_inject_fire(MOCKDMA_INJECT_WB_START,
			    (struct folio *)regs_get_kernel_argument(regs, 0));
	return 0;
}

static int mockdma_kp_wb_end(struct kprobe *p, struct pt_regs *regs)
{
	mockdma_inject_fire(MOCKDMA_INJECT_WB_END,
			    (struct folio *)regs_get_kernel_argument(regs, 0));
	return 0;
}

static int mockdma_kp_reclaim(struct kprobe *p, struct pt_regs *regs)
{
	mockdma_inject_fire(MOCKDMA_INJECT_RECLAIM,
			    (struct folio *)regs_get_kernel_argument(regs, 0));
	return 0;
}

static struct kprobe mockdma_kprobes[MOCKDMA_INJECT_COUNT] = {
	[MOCKDMA_INJECT_WB_START] = {
		.symbol_name = "__folio_start_writeback",
		.pre_handler = mockdma_kp_wb_start,
	},
	[MOCKDMA_INJECT_WB_END] = {
		.symbol_name = "folio_end_writeback",
		.pre_handler = mockdma_kp_wb_end,
	},
	[MOCKDMA_INJECT_RECLAIM] = {
		.symbol_name = "folio_referenced",
		.pre_handler = mockdma_kp_reclaim,
	},
};

static bool mockdma_kprobe_live[MOCKDMA_INJECT_COUNT];
static DEFINE_MUTEX(mockdma_kprobe_lock);

/* Make sure the hook of @point is in place. */
static int mockdma_inject_hook(u32 point)
{
	int ret = 0;

	if (!mockdma_kprobes[point].symbol_name)
		return 0;	/* the shrinker is always registered */

	mutex_lock(&mockdma_kprobe_lock);
	if (!mockdma_kprobe_live[point]) {
		ret = register_kprobe(&mockdma_kprobes[point]);
		if (ret) {
			pr_warn("cannot probe %s: %d\n",
				mockdma_kprobes[point].symbol_name, ret);
			/* A failed registration leaves the kprobe reusable. */
			ret = -EOPNOTSUPP;
		} else {
			mockdma_kprobe_live[point] = true;
		}
	}
	mutex_unlock(&mockdma_kprobe_lock);
	return ret;
}

/*
 * The shrinker reports the armed stamps as its objects and "frees" them by
 * writing them.  seeks = 0 asks do_shrink_slab() to scan half the count at
 * any reclaim priority; with batch 1 one armed page is enough to be called.
 */
static unsigned long mockdma_shrink_count(struct shrinker *shrinker,
					  struct shrink_control *sc)
{
	return atomic_read(&mockdma_armed_at[MOCKDMA_INJECT_SHRINKER]) *
	       (PAGE_SIZE / MOCKDMA_STAMP_SIZE);
}

static unsigned long mockdma_shrink_scan(struct shrinker *shrinker,
					 struct shrink_control *sc)
{
	mockdma_inject_fire(MOCKDMA_INJECT_SHRINKER, NULL);
	/* Nothing was freed; do not call again in this pass. */
	return SHRINK_STOP;
}

static struct shrinker mockdma_shrinker = {
	.count_objects = mockdma_shrink_count,
	.scan_objects = mockdma_shrink_scan,
	.seeks = 0,
	.batch = 1,
};

/**
 * mockdma_inject_arm() - arm pages of a handle (INJECT_ARM)
 * @h:  handle pinned for write; the caller holds a reference
 * @in: the request, validated except for its page range and seq; its
 *      @seq and @armed are filled in
 *
 * Context: process context.
 * Return: 0 or a negative errno as documented in the UAPI header.
 */
int mockdma_inject_arm(struct mockdma_handle *h, struct mockdma_inject *in)
{
	unsigned long first = in->first_page, n, i, flags;
	unsigned int slot, nfree = 0;
	u32 seq;
	int ret;

	if (first >= h->npages)
		return -EINVAL;
	n = in->npages ? in->npages : h->npages - first;
	if (n > h->npages - first)
		return -EINVAL;
	if (n > MOCKDMA_INJECT_MAX_PAGES)
		return -ENOSPC;
	if (in->seq > (u32)atomic_read(&h->dma_seq))
		return -EINVAL;

	ret = mockdma_inject_hook(in->point);
	if (ret)
		return ret;

	if (mutex_lock_killable(&h->lock))
		return -EINTR;
	if (h->retired) {
		ret = -ENOENT;
		goto out_unlock;
	}
	seq = in->seq ? in->seq : (u32)atomic_inc_return(&h->dma_seq);

	raw_spin_lock_irqsave(&mockdma_slots_lock, flags);
	for (slot = 0; slot < ARRAY_SIZE(mockdma_slots); slot++)
		nfree += !mockdma_slots[slot].h;
	if (nfree < n) {
		raw_spin_unlock_irqrestore(&mockdma_slots_lock, flags);
		ret = -ENOSPC;
		goto out_unlock;
	}
	for (i = 0, slot = 0; i < n; slot++) {
		struct mockdma_inject_slot *s = &mockdma_slots[slot];

		if (s->h)
			continue;
		s->folio = page_folio(h->pages[first + i]);
		s->index = first + i;
		s->point = in->point;
		s->offset = in->offset;
		s->length = in->length;
		s->seq = seq;
		s->h = h;
		atomic_inc(&h->inject_armed);
		atomic_inc(&mockdma_armed_at[in->point]);
		i++;
	}
	raw_spin_unlock_irqrestore(&mockdma_slots_lock, flags);

	atomic64_add(n, &mockdma_stats.inject_armed);
	atomic64_add(n, &mockdma_stats.inject_arms_total);
	in->seq = seq;
	in->armed = n;
out_unlock:
	mutex_unlock(&h->lock);
	return ret;
}

/* Disarm the pages of @h at @point, or at every point if @point is -1. */
static unsigned long mockdma_inject_clear(struct mockdma_handle *h,
					  u32 point)
{
	unsigned long flags, n = 0;
	unsigned int i;

	raw_spin_lock_irqsave(&mockdma_slots_lock, flags);
	for (i = 0; i < ARRAY_SIZE(mockdma_slots); i++) {
		struct mockdma_inject_slot *s = &mockdma_slots[i];

		if (s->h != h || (point != U32_MAX && s->point != point))
			continue;
		mockdma_slot_free(s, false);
		n++;
	}
	raw_spin_unlock_irqrestore(&mockdma_slots_lock, flags);
	return n;
}

/**
 * mockdma_inject_disarm() - INJECT_DISARM: disarm @point, report counts
 * @h:     handle; the caller holds a reference
 * @point: a valid enum mockdma_inject_point
 * @out:   its @armed and @fired are filled in
 */
void mockdma_inject_disarm(struct mockdma_handle *h, u32 point,
			   struct mockdma_inject *out)
{
	out->armed = mockdma_inject_clear(h, point);
	out->fired = atomic64_read(&h->inject_fired[point]);
}

/* Disarm every page of @h; called with @h->lock held when retiring it. */
void mockdma_inject_disarm_all(struct mockdma_handle *h)
{
	lockdep_assert_held(&h->lock);
	mockdma_inject_clear(h, U32_MAX);
}

int mockdma_inject_init(void)
{
	return register_shrinker(&mockdma_shrinker, "mockdma-inject");
}

void mockdma_inject_exit(void)
{
	unsigned int i;

	unregister_shrinker(&mockdma_shrinker);
	for (i = 0; i < ARRAY_SIZE(mockdma_kprobes); i++)
		if (mockdma_kprobe_live[i])
			unregister_kprobe(&mockdma_kprobes[i]);
}
