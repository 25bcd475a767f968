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
 *   BIO_SUBMIT kprobe on blk_mq_submit_bio(bio), where a bio enters a
 *             request-based device (loop, virtio-blk): the bottom of a
 *             stack, after every layer above has passed it down (a file
 *             system that checksums data, btrfs, has computed the sums
 *             of the bio's pages by then) and before the device reads
 *             the data.  The handler walks the bio's pages (a clone's
 *             too: bio_for_each_segment() follows bi_iter, never
 *             bi_vcnt) and fires each armed folio it finds; a write here
 *             is on disk after this I/O.
 *
 * The hooks may run in any context (folio_end_writeback() runs in the bio's
 * completion, often a hard IRQ), so armed pages live in a fixed table of
 * slots, hashed by folio, under a raw spinlock taken with IRQs off.  A hook
 * looks only at its folio's bucket, unlinks the slots that match and stamps
 * them after dropping the lock (mockdma_dma_stamp() without dirtying), so
 * the global lock is never held across a stamp.  A kprobe hit through int3
 * (a kernel without KPROBES_ON_FTRACE, before the probe is optimised) runs
 * in NMI context (exc_int3() -> irqentry_nmi_enter()), where lockdep allows
 * only trylocks: it cannot know that no probed function is ever called with
 * this lock held, which is what keeps the int3 from interrupting a holder
 * on its own CPU.  There the hook only trylocks, for at most
 * MOCKDMA_NMI_LOCK_NS (once per bio at BIO_SUBMIT), and otherwise gives up
 * and counts the hit in inject_lock_busy, which the harness fails a program
 * for (ci/report.py); the slot stays armed.  A fired slot is freed without
 * the lock (its owner pointer cleared last, with release ordering), so
 * firing never needs it twice.  Found by lockdep in make stress:
 * "inconsistent {INITIAL USE} -> {IN-NMI} usage" of this lock.  The
 * lockless alternative (slots claimed by cmpxchg, buckets walked under
 * RCU) and KPROBES_ON_FTRACE in pinlab's kernels (no NMI at all, as on
 * Debian's) are not done yet.  The kprobe handlers keep
 * interrupts off from the lookup through the stamp: a kprobe hit on this
 * CPU while a handler runs is only counted as missed (kprobe_running()),
 * so a writeback completion interrupting a stamp would lose its WB_END
 * injection.  A slot points at its handle without a reference; a slot
 * being fired counts in the handle's @inject_firing, and every firing runs
 * inside an RCU read-side section (a kprobe handler runs with preemption
 * off; the shrinker takes rcu_read_lock()), so DISARM and retirement, after
 * unlinking the handle's slots, wait with synchronize_rcu() for the ones in
 * flight: when they return, every write counted in @inject_fired has
 * landed and no hook touches the pages.  A retired handle cannot be armed
 * again.
 *
 * The kprobes are registered at the first ARM of their point and
 * unregistered, from process context, as soon as no slot is armed there
 * (after DISARM and at retirement), so that an injection test leaves no
 * probe behind to slow every later writeback and reclaim of the boot.  Each
 * registration starts from a fresh copy of the point's template:
 * register_kprobe() stores the resolved address in the kprobe before its
 * later checks, so a kprobe whose registration failed (or that was
 * unregistered) has both symbol_name and addr set and would be refused with
 * -EINVAL if registered again.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bio.h>
#include <linux/hash.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/ptrace.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>
#include <linux/rcupdate.h>
#include <linux/sched/clock.h>

#include "mockdma_compat.h"
#include "mockdma_internal.h"

struct mockdma_inject_slot {
	struct mockdma_handle *h;	/* NULL: free */
	struct folio *folio;		/* compared with the hook's argument */
	struct hlist_node node;		/* in its folio's bucket while armed */
	struct mockdma_inject_slot *next_fire;	/* being fired: private list */
	unsigned long index;		/* page index in the handle */
	u32 point;
	u32 offset;
	u32 length;
	u64 seq;
};

#define MOCKDMA_INJECT_HASH_BITS	8

static struct mockdma_inject_slot mockdma_slots[MOCKDMA_INJECT_MAX_PAGES];
static struct hlist_head mockdma_buckets[1 << MOCKDMA_INJECT_HASH_BITS];
static DEFINE_RAW_SPINLOCK(mockdma_slots_lock);
/* Slots in use per point: the handlers' lockless fast path. */
static atomic_t mockdma_armed_at[MOCKDMA_INJECT_COUNT];

static struct hlist_head *mockdma_bucket(struct folio *folio)
{
	return &mockdma_buckets[hash_ptr(folio, MOCKDMA_INJECT_HASH_BITS)];
}

/* Unlink @s (a slot in use): it is no longer armed. */
static void mockdma_slot_unlink(struct mockdma_inject_slot *s)
{
	lockdep_assert_held(&mockdma_slots_lock);
	hlist_del_init(&s->node);
	atomic_dec(&s->h->inject_armed);
	atomic_dec(&mockdma_armed_at[s->point]);
	atomic64_dec(&mockdma_stats.inject_armed);
}

/*
 * Stamp the slots of @list (unlinked, counted in their handles'
 * @inject_firing) outside the global lock, count them fired and free them.
 * A slot is free once its @h is NULL: ARM takes it then (under the lock),
 * so everything else of the slot is read before that store.  Called in an
 * RCU read-side section (see the top of this file), which keeps the handle
 * alive after its @inject_firing drops.
 */
static void mockdma_fire_list(struct mockdma_inject_slot *list)
{
	struct mockdma_inject_slot *s, *next;
	struct mockdma_handle *h;

	for (s = list; s; s = next) {
		next = s->next_fire;
		h = s->h;
		mockdma_dma_stamp(h, s->index, s->offset, s->length, s->seq,
				  false);
		atomic64_inc(&h->inject_fired[s->point]);
		atomic64_inc(&mockdma_stats.inject_fired_total);
		atomic64_inc(&mockdma_stats.inject_fired[s->point]);
		/* Free: ARM's smp_load_acquire() of @h pairs with this. */
		smp_store_release(&s->h, NULL);
		/*
		 * The stamp and every read of @h happen before the count
		 * drops: mockdma_inject_wait_firing()'s acquire read of 0 then
		 * sees them done, and skips the grace period rightly.
		 */
		smp_mb__before_atomic();
		atomic_dec(&h->inject_firing);
	}
}

/* How long a hook in NMI context tries for the slot lock. */
#define MOCKDMA_NMI_LOCK_NS	(20 * NSEC_PER_MSEC)

/* Take @s out for firing: the caller then passes it to mockdma_fire_list(). */
static void mockdma_slot_take(struct mockdma_inject_slot *s,
			      struct mockdma_inject_slot **list)
{
	atomic_inc(&s->h->inject_firing);
	mockdma_slot_unlink(s);
	s->next_fire = *list;
	*list = s;
}

/*
 * Fire every page armed at @point that belongs to @folio (its bucket
 * only), or every page armed at @point if @folio is NULL (the shrinker).
 * The caller has interrupts off (kprobe handlers) or holds
 * rcu_read_lock() (the shrinker).  Returns the number fired, or -EBUSY
 * if a hook in NMI context gave up on the lock (counted in
 * inject_lock_busy).
 */
static long mockdma_inject_fire(u32 point, struct folio *folio)
{
	struct mockdma_inject_slot *s, *list = NULL;
	struct hlist_node *tmp;
	unsigned long flags;
	long fired = 0;
	unsigned int i;
	u64 end;

	if (!atomic_read(&mockdma_armed_at[point]))
		return 0;

	if (in_nmi()) {
		/* Only trylocks here, for a bounded time (see the top). */
		end = local_clock() + MOCKDMA_NMI_LOCK_NS;
		while (!raw_spin_trylock_irqsave(&mockdma_slots_lock, flags)) {
			if (local_clock() >= end) {
				atomic64_inc(&mockdma_stats.inject_lock_busy);
				return -EBUSY;
			}
			cpu_relax();
		}
	} else {
		raw_spin_lock_irqsave(&mockdma_slots_lock, flags);
	}
	if (folio) {
		hlist_for_each_entry_safe(s, tmp, mockdma_bucket(folio), node) {
			if (s->point != point || s->folio != folio)
				continue;
			mockdma_slot_take(s, &list);
			fired++;
		}
	} else {
		for (i = 0; i < ARRAY_SIZE(mockdma_slots); i++) {
			s = &mockdma_slots[i];
			if (!READ_ONCE(s->h) || hlist_unhashed(&s->node) ||
			    s->point != point)
				continue;
			mockdma_slot_take(s, &list);
			fired++;
		}
	}
	raw_spin_unlock_irqrestore(&mockdma_slots_lock, flags);
	mockdma_fire_list(list);
	return fired;
}

/*
 * The three folio hooks' functions take the folio as their first argument.
 * Interrupts stay off through the stamp (see the top of this file).
 */
static void mockdma_kp_fire(u32 point, struct pt_regs *regs)
{
	unsigned long flags;

	local_irq_save(flags);
	mockdma_inject_fire(point,
			    (struct folio *)regs_get_kernel_argument(regs, 0));
	local_irq_restore(flags);
}

static int mockdma_kp_wb_start(struct kprobe *p, struct pt_regs *regs)
{
	mockdma_kp_fire(MOCKDMA_INJECT_WB_START, regs);
	return 0;
}

static int mockdma_kp_wb_end(struct kprobe *p, struct pt_regs *regs)
{
	mockdma_kp_fire(MOCKDMA_INJECT_WB_END, regs);
	return 0;
}

static int mockdma_kp_reclaim(struct kprobe *p, struct pt_regs *regs)
{
	mockdma_kp_fire(MOCKDMA_INJECT_RECLAIM, regs);
	return 0;
}

/*
 * blk_mq_submit_bio(bio): every folio of a write bio, once per run of
 * pages from the same folio.  Reads are left alone: the device is only
 * to write into a page while it is being written out.
 */
static int mockdma_kp_bio_submit(struct kprobe *p, struct pt_regs *regs)
{
	struct bio *bio = (struct bio *)regs_get_kernel_argument(regs, 0);
	struct folio *folio, *last = NULL;
	struct bvec_iter iter;
	struct bio_vec bv;
	unsigned long flags;

	if (!atomic_read(&mockdma_armed_at[MOCKDMA_INJECT_BIO_SUBMIT]) ||
	    bio_op(bio) != REQ_OP_WRITE || !bio_has_data(bio))
		return 0;
	local_irq_save(flags);
	bio_for_each_segment(bv, bio, iter) {
		folio = page_folio(bv.bv_page);
		if (folio == last)
			continue;
		last = folio;
		/* One wait for the lock per bio, not one per folio. */
		if (mockdma_inject_fire(MOCKDMA_INJECT_BIO_SUBMIT, folio) < 0)
			break;
	}
	local_irq_restore(flags);
	return 0;
}

/* Templates: each registration starts from a fresh copy (see the top). */
static const struct kprobe mockdma_kprobe_tmpl[MOCKDMA_INJECT_COUNT] = {
	[MOCKDMA_INJECT_WB_START] = {
		.symbol_name = MOCKDMA_KP_WB_START,
		.pre_handler = mockdma_kp_wb_start,
	},
	[MOCKDMA_INJECT_WB_END] = {
		.symbol_name = MOCKDMA_KP_WB_END,
		.pre_handler = mockdma_kp_wb_end,
	},
	[MOCKDMA_INJECT_RECLAIM] = {
		.symbol_name = MOCKDMA_KP_RECLAIM,
		.pre_handler = mockdma_kp_reclaim,
	},
	[MOCKDMA_INJECT_BIO_SUBMIT] = {
		.symbol_name = "blk_mq_submit_bio",
		.pre_handler = mockdma_kp_bio_submit,
	},
};

static struct kprobe mockdma_kprobes[MOCKDMA_INJECT_COUNT];
static bool mockdma_kprobe_live[MOCKDMA_INJECT_COUNT];
/*
 * Serialises registration and unregistration against arming, so that a
 * point is never left armed without its probe.  Taken before any handle's
 * lock, never inside one.
 */
static DEFINE_MUTEX(mockdma_kprobe_lock);

/*
 * Fault injection (debugfs inject_fail_register): the next registration
 * probes get_kprobe instead, which kernel/kprobes.c marks NOKPROBE_SYMBOL
 * on every architecture, so that register_kprobe() fails after it has
 * stored the resolved address (-EINVAL from check_kprobe_address_safe()'s
 * blacklist check).  The test of the retry after a failure.
 */
bool mockdma_inject_fail_register;

/* Make sure the hook of @point is in place; mockdma_kprobe_lock held. */
static int mockdma_inject_hook(u32 point)
{
	struct kprobe *kp = &mockdma_kprobes[point];
	int ret;

	lockdep_assert_held(&mockdma_kprobe_lock);
	/* The shrinker is always registered; a live probe stays. */
	if (!mockdma_kprobe_tmpl[point].symbol_name ||
	    mockdma_kprobe_live[point])
		return 0;

	*kp = mockdma_kprobe_tmpl[point];
	if (READ_ONCE(mockdma_inject_fail_register)) {
		WRITE_ONCE(mockdma_inject_fail_register, false);
		kp->symbol_name = "get_kprobe";
	}
	ret = register_kprobe(kp);
	if (ret) {
		pr_warn("cannot probe %s: %d\n", kp->symbol_name, ret);
		return -EOPNOTSUPP;
	}
	WRITE_ONCE(mockdma_kprobe_live[point], true);
	return 0;
}

/*
 * Unregister every probe with no slot armed at its point.  Process context;
 * never called with a handle's lock held.
 */
static void mockdma_inject_unhook_idle(void)
{
	unsigned int i;

	mutex_lock(&mockdma_kprobe_lock);
	for (i = 0; i < ARRAY_SIZE(mockdma_kprobes); i++) {
		if (!mockdma_kprobe_live[i] ||
		    atomic_read(&mockdma_armed_at[i]))
			continue;
		unregister_kprobe(&mockdma_kprobes[i]);
		WRITE_ONCE(mockdma_kprobe_live[i], false);
	}
	mutex_unlock(&mockdma_kprobe_lock);
}

/* Hits of our probes that kprobes dropped (nested in a handler). */
unsigned long mockdma_inject_probes_missed(void)
{
	unsigned long n = 0;
	unsigned int i;

	mutex_lock(&mockdma_kprobe_lock);
	for (i = 0; i < ARRAY_SIZE(mockdma_kprobes); i++)
		if (mockdma_kprobe_live[i])
			n += mockdma_kprobes[i].nmissed;
	mutex_unlock(&mockdma_kprobe_lock);
	return n;
}

/* Probes registered now, for debugfs "stats". */
unsigned int mockdma_inject_probes_live(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(mockdma_kprobes); i++)
		n += READ_ONCE(mockdma_kprobe_live[i]);
	return n;
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
	rcu_read_lock();
	mockdma_inject_fire(MOCKDMA_INJECT_SHRINKER, NULL);
	rcu_read_unlock();
	/* Nothing was freed; do not call again in this pass. */
	return SHRINK_STOP;
}

static struct shrinker *mockdma_shrinker;

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
	u64 seq;
	int ret;

	ret = mockdma_handle_range(h, first, in->npages, &n);
	if (ret)
		return ret;
	if (n > MOCKDMA_INJECT_MAX_PAGES)
		return -ENOSPC;
	if (in->seq > (u64)atomic64_read(&h->dma_seq))
		return -EINVAL;

	/*
	 * mockdma_kprobe_lock serialises every ARM: slots only get freed
	 * meanwhile, so the free count below still holds at insertion.  The
	 * cheap checks come first: a registration costs a text poke, and
	 * undoing it a synchronize_rcu().
	 */
	if (mutex_lock_killable(&mockdma_kprobe_lock))
		return -EINTR;
	if (mutex_lock_killable(&h->lock)) {
		ret = -EINTR;
		goto out_unlock_kprobe;
	}
	if (h->retired) {
		ret = -ENOENT;
		goto out_unlock;
	}
	raw_spin_lock_irqsave(&mockdma_slots_lock, flags);
	for (slot = 0; slot < ARRAY_SIZE(mockdma_slots); slot++)
		nfree += !READ_ONCE(mockdma_slots[slot].h);
	raw_spin_unlock_irqrestore(&mockdma_slots_lock, flags);
	if (nfree < n) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	ret = mockdma_inject_hook(in->point);
	if (ret)
		goto out_unlock;
	seq = in->seq ? in->seq : mockdma_handle_next_seq(h);

	raw_spin_lock_irqsave(&mockdma_slots_lock, flags);
	for (i = 0, slot = 0; i < n; slot++) {
		struct mockdma_inject_slot *s = &mockdma_slots[slot];

		/* Pairs with the release in mockdma_fire_list(). */
		if (smp_load_acquire(&s->h))
			continue;
		s->folio = page_folio(h->pages[first + i]);
		s->index = first + i;
		s->point = in->point;
		s->offset = in->offset;
		s->length = in->length;
		s->seq = seq;
		WRITE_ONCE(s->h, h);
		hlist_add_head(&s->node, mockdma_bucket(s->folio));
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
out_unlock_kprobe:
	mutex_unlock(&mockdma_kprobe_lock);
	return ret;
}

/*
 * Wait until no slot of @h is being fired: once its slots are unlinked
 * no new firing can start, and every one in flight runs in an RCU
 * read-side section that began before this call (see the top of this
 * file), so one grace period is enough.  Process context.
 */
static void mockdma_inject_wait_firing(struct mockdma_handle *h)
{
	might_sleep();
	if (atomic_read_acquire(&h->inject_firing))
		synchronize_rcu();
	WARN_ON_ONCE(atomic_read(&h->inject_firing));
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

		if (READ_ONCE(s->h) != h || hlist_unhashed(&s->node) ||
		    (point != U32_MAX && s->point != point))
			continue;
		mockdma_slot_unlink(s);
		WRITE_ONCE(s->h, NULL);
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
	mockdma_inject_wait_firing(h);
	out->fired = atomic64_read(&h->inject_fired[point]);
	mockdma_inject_unhook_idle();
}

/*
 * Disarm every page of @h and wait until none of its slots is being fired;
 * called with @h->lock held when retiring it.  Afterwards no hook touches
 * the pages of @h.
 */
void mockdma_inject_disarm_all(struct mockdma_handle *h)
{
	unsigned long flags;

	lockdep_assert_held(&h->lock);
	/*
	 * Each slot of @h is counted in @h->inject_armed while linked and in
	 * @h->inject_firing while a hook stamps it, and moves from one to the
	 * other under mockdma_slots_lock; only ARM links one, under @h->lock,
	 * which we hold.  With none armed there is none to unlink, and the
	 * scan of every slot with IRQs off, most of what an UNPIN cost, is
	 * skipped; the lock is still taken, so that a hook which took a slot
	 * of @h before it is seen in @h->inject_firing below.
	 */
	if (atomic_read(&h->inject_armed)) {
		mockdma_inject_clear(h, U32_MAX);
	} else {
		raw_spin_lock_irqsave(&mockdma_slots_lock, flags);
		raw_spin_unlock_irqrestore(&mockdma_slots_lock, flags);
	}
	mockdma_inject_wait_firing(h);
}

/* After retiring handles, outside their locks: drop the idle probes. */
void mockdma_inject_retired(void)
{
	mockdma_inject_unhook_idle();
}

int mockdma_inject_init(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mockdma_slots); i++)
		INIT_HLIST_NODE(&mockdma_slots[i].node);
	mockdma_shrinker = mockdma_shrinker_create("mockdma-inject",
						   mockdma_shrink_count,
						   mockdma_shrink_scan, 0, 1);
	return PTR_ERR_OR_ZERO(mockdma_shrinker);
}

void mockdma_inject_exit(void)
{
	unsigned int i;

	mockdma_shrinker_destroy(mockdma_shrinker);
	for (i = 0; i < ARRAY_SIZE(mockdma_kprobes); i++)
		if (mockdma_kprobe_live[i])
			unregister_kprobe(&mockdma_kprobes[i]);
}
