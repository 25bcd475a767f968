// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: pinning and releasing user memory, and a handle's lifetime
 * (pin, get/put, retirement, release).
 *
 * Accounting: ib_umem_get() (drivers/infiniband/core/umem.c) refuses a
 * caller that may not lock memory at all (can_do_mlock()) and charges
 * RLIMIT_MEMLOCK to the pinning mm's pinned_vm.  A charge on an mm is
 * escaped by fork: each child has a fresh pinned_vm, and a handle that
 * outlives its pinning process (the fd is shared) keeps charging a dead
 * mm.  So the limit is checked against the user's locked_vm instead, as
 * io_uring does for its fixed buffers (__io_account_mem()), with a
 * reference on the user_struct until the pages are released; pinned_vm is
 * still raised (VmPin in /proc/pid/status), and the mm held by mmgrab() so
 * that is undone however late.  The choice of GUP entry point and the
 * post-pin check follow mm/gup_test.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/err.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>

#include "mockdma_compat.h"
#include "mockdma_internal.h"

/*
 * Pages asked of GUP per call.  pin_user_pages_fast() takes an int and
 * walks a call's page tables with IRQs off, the locked methods hold
 * mmap_lock for a whole call, and ib_umem_get() likewise pins one page of
 * page pointers at a time.  The same chunk bounds the release loop (and,
 * with debugfs unpin_irqs_off, each IRQs-off section).  debugfs
 * gup_chunk_pages sets it, so that the pin benchmark can make the GUP
 * calls gup_test makes with its nr_pages_per_call
 * (userspace/bench/pin_bench.c).
 */
u32 mockdma_gup_chunk = MOCKDMA_GUP_CHUNK_DEFAULT;

/* The chunk a PIN or a release uses, read once by each. */
unsigned long mockdma_gup_chunk_pages(void)
{
	if (mockdma_mutated(MOCKDMA_MUT_GUP_CHUNK_IGNORED))
		return MOCKDMA_GUP_CHUNK_DEFAULT;
	return READ_ONCE(mockdma_gup_chunk);
}

bool mockdma_unpin_irqs_off;
u64 mockdma_seq_base;

/* Every method but the legacy one takes FOLL_PIN pins. */
static bool mockdma_method_is_pin(u32 method)
{
	return method != MOCKDMA_METHOD_GUP;
}

/*
 * Dirty @nr pages taken by @method, then drop them with interrupts off
 * (debugfs unpin_irqs_off): the folio lock of the dirtying step may sleep,
 * so that is done first with interrupts on, as unpin_user_pages_dirty_lock()
 * would, and only the reference drops, where the last unpin of a folio
 * runs, are inside local_irq_save(), as in the undo of gup_fast.
 */
static void mockdma_put_pages_irqs_off(struct page **pages, unsigned long nr,
				       u32 method, bool dirty)
{
	unsigned long flags, j;

	if (dirty && !mockdma_mutated(MOCKDMA_MUT_IRQS_OFF_NO_DIRTY))
		for (j = 0; j < nr; j++)
			set_page_dirty_lock(pages[j]);
	local_irq_save(flags);
	if (mockdma_method_is_pin(method)) {
		unpin_user_pages(pages, nr);
	} else {
		for (j = 0; j < nr; j++)
			put_page(pages[j]);
	}
	local_irq_restore(flags);
	atomic64_add(nr, &mockdma_stats.unpin_irqs_off_pages);
}

/*
 * Release @npages pages taken by @method, dirtying them first if @dirty.
 * Sleeps: set_page_dirty_lock() and unpin_user_pages_dirty_lock() take the
 * folio lock.  @irqs_off: see mockdma_put_pages_irqs_off().
 */
static void mockdma_put_pages(struct page **pages, unsigned long npages,
			      u32 method, bool dirty, bool irqs_off)
{
	unsigned long chunk = mockdma_gup_chunk_pages();
	unsigned long i, j, nr;

	for (i = 0; i < npages; i += nr) {
		nr = min(npages - i, chunk);
		atomic64_inc(&mockdma_stats.unpin_calls_total);
		if (irqs_off) {
			mockdma_put_pages_irqs_off(pages + i, nr, method,
						   dirty);
		} else if (mockdma_method_is_pin(method)) {
			/*
			 * FOLL_PIN pages must go back through the unpin API
			 * (Documentation/core-api/pin_user_pages.rst): it
			 * drops GUP_PIN_COUNTING_BIAS references, or the large
			 * folio's pincount.  With dirty false this is
			 * unpin_user_pages().
			 */
			unpin_user_pages_dirty_lock(pages + i, nr, dirty);
		} else {
			/* FOLL_GET: one plain reference per page. */
			for (j = i; j < i + nr; j++) {
				if (dirty)
					set_page_dirty_lock(pages[j]);
				put_page(pages[j]);
			}
		}
		cond_resched();
	}
}

/*
 * One GUP call for at most mockdma_gup_chunk pages of current->mm.  Returns
 * the number of pages taken (possibly fewer than @nr) or -errno.
 */
static long mockdma_gup(u32 method, unsigned long start, unsigned long nr,
			unsigned int gup_flags, struct page **pages)
{
	struct mm_struct *mm = current->mm;
	long ret;

	switch (method) {
	case MOCKDMA_METHOD_PIN_FAST:
		/* Takes mmap_lock itself if the lockless walk falls short. */
		return pin_user_pages_fast(start, (int)nr, gup_flags, pages);
	case MOCKDMA_METHOD_PIN:
		/*
		 * pin_user_pages() must be called with mmap_lock held and
		 * never drops it (it passes no "locked" to GUP).
		 */
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		ret = mockdma_pin_user_pages(start, nr, gup_flags, pages);
		mmap_read_unlock(mm);
		return ret;
	case MOCKDMA_METHOD_PIN_UNLOCKED:
		/* Takes mmap_lock and may drop it to retry a fault. */
		return pin_user_pages_unlocked(start, nr, pages, gup_flags);
	case MOCKDMA_METHOD_GUP:
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		ret = mockdma_get_user_pages(start, nr, gup_flags, pages);
		mmap_read_unlock(mm);
		return ret;
	}
	return -EINVAL;
}

/*
 * Every page a pin_user_pages*() call returned must now be seen as pinned by
 * the rest of mm (page_maybe_dma_pinned() is what fork() and the writeback
 * and reclaim paths test); gup_test.c's verify_dma_pinned() checks the same.
 * A failure is a kernel bug, not a user error, hence WARN.
 */
static void mockdma_verify_pinned(struct page **pages, unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *page = pages[i];

		/* try_grab_folio() deliberately never pins the zero page. */
		if (is_zero_page(page))
			continue;
		if (WARN_ONCE(!folio_maybe_dma_pinned(page_folio(page)),
			      KBUILD_MODNAME ": page %lu of a FOLL_PIN range is not dma-pinned\n",
			      i)) {
			dump_page(page, KBUILD_MODNAME ": not dma-pinned after FOLL_PIN");
			return;
		}
	}
}

/*
 * Charge @npages against RLIMIT_MEMLOCK as io_uring's __io_account_mem()
 * does: to the user's locked_vm, with a compare-and-exchange so that
 * concurrent pinners cannot both slip under the limit.  Without CAP_IPC_LOCK
 * only; a caller that may lock nothing gets -EPERM, as from ib_umem_get().
 * On success @h->user holds the charged user (or NULL: nothing charged).
 */
static int mockdma_charge(struct mockdma_handle *h, struct mm_struct *mm,
			  unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur, new;
	struct user_struct *user;

	h->user = NULL;
	if (!can_do_mlock() && !mockdma_mutated(MOCKDMA_MUT_NO_CAN_DO_MLOCK))
		return -EPERM;
	if (capable(CAP_IPC_LOCK))
		return 0;
	if (mockdma_mutated(MOCKDMA_MUT_MEMLOCK_PER_MM))
		return atomic64_read(&mm->pinned_vm) + npages > limit ?
		       -ENOMEM : 0;

	user = get_uid(current_user());
	cur = atomic_long_read(&user->locked_vm);
	do {
		new = cur + npages;
		if (new < cur || new > limit) {
			free_uid(user);
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));
	h->user = user;
	return 0;
}

static void mockdma_uncharge(struct mockdma_handle *h)
{
	if (!h->user)
		return;
	atomic_long_sub(h->npages, &h->user->locked_vm);
	free_uid(h->user);
	h->user = NULL;
}

/**
 * mockdma_handle_pin() - pin a user range of the current process
 * @addr:      page-aligned user address, already range checked
 * @npages:    non-zero page count, already checked against the limits
 * @method:    enum mockdma_pin_method; combinations 6.1 would WARN on
 *             (LONGTERM with GUP or PIN_UNLOCKED) are rejected by the caller
 * @pin_flags: MOCKDMA_PIN_*
 *
 * Return: a new handle holding one reference (the caller's), with id 0; or
 * ERR_PTR(-errno), in which case nothing stays pinned or charged.
 */
struct mockdma_handle *mockdma_handle_pin(unsigned long addr,
					  unsigned long npages, u32 method,
					  u32 pin_flags)
{
	unsigned long chunk = mockdma_gup_chunk_pages();
	struct mm_struct *mm = current->mm;
	unsigned int gup_flags = 0;
	struct mockdma_handle *h;
	unsigned long done = 0;
	long ret;

	if (pin_flags & MOCKDMA_PIN_WRITE)
		gup_flags |= FOLL_WRITE;
	if (pin_flags & MOCKDMA_PIN_LONGTERM)
		gup_flags |= FOLL_LONGTERM;

	h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!h)
		return ERR_PTR(-ENOMEM);
	h->npages = npages;
	ret = mockdma_charge(h, mm, npages);
	if (ret)
		goto err_free_handle;
	atomic64_add(npages, &mm->pinned_vm);
	mmgrab(mm);

	/*
	 * __GFP_NOWARN: max_pin_pages is root-tunable, and kvmalloc() WARNs
	 * on sizes above INT_MAX unless told not to.
	 */
	h->pages = kvcalloc(npages, sizeof(*h->pages),
			    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!h->pages) {
		ret = -ENOMEM;
		goto err_uncharge;
	}

	/* GUP may return fewer pages than asked: loop until covered. */
	while (done < npages) {
		unsigned long nr = min(npages - done, chunk);

		ret = mockdma_gup(method, addr + (done << PAGE_SHIFT), nr,
				  gup_flags, h->pages + done);
		atomic64_inc(&mockdma_stats.gup_calls_total);
		/*
		 * 0 means nothing could be taken yet no error was given
		 * (e.g. gup-fast's own range check); retrying would spin.
		 */
		if (ret == 0)
			ret = -EFAULT;
		if (ret < 0)
			goto err_put_pages;
		done += ret;
		cond_resched();
	}

	if (mockdma_method_is_pin(method))
		mockdma_verify_pinned(h->pages, npages);

	kref_init(&h->ref);
	h->method = method;
	h->pin_flags = pin_flags;
	h->addr = addr;
	h->mm = mm;
	atomic64_set(&h->dma_seq, READ_ONCE(mockdma_seq_base));
	h->wrote = false;
	h->release_mode = MOCKDMA_RELEASE_CLEAN;
	mutex_init(&h->lock);
	mockdma_engine_handle_init(h);

	atomic64_add(npages, &mockdma_stats.pages_pinned);
	atomic64_inc(&mockdma_stats.handles);
	atomic64_inc(&mockdma_stats.pins_total);
	return h;

err_put_pages:
	mockdma_put_pages(h->pages, done, method, false, false);
	kvfree(h->pages);
err_uncharge:
	atomic64_sub(npages, &mm->pinned_vm);
	mmdrop(mm);
	mockdma_uncharge(h);
err_free_handle:
	kfree(h);
	return ERR_PTR(ret);
}

static void mockdma_handle_release(struct kref *ref)
{
	struct mockdma_handle *h = container_of(ref, struct mockdma_handle, ref);
	bool dirty;

	switch (READ_ONCE(h->release_mode)) {
	case MOCKDMA_RELEASE_DIRTY:
		dirty = true;
		break;
	case MOCKDMA_RELEASE_DIRTY_IF_WRITTEN:
		dirty = READ_ONCE(h->wrote);
		break;
	default:
		dirty = false;
		break;
	}
	/*
	 * Only dirty what the device could have written, as ib_umem does
	 * (make_dirty = umem->writable && dirty): dirtying a range pinned
	 * read-only would mark page cache dirty that the process may not
	 * even be allowed to write, and would dirty the shared zero page.
	 */
	if (!(h->pin_flags & MOCKDMA_PIN_WRITE))
		dirty = false;

	mockdma_put_pages(h->pages, h->npages, h->method, dirty,
			  READ_ONCE(mockdma_unpin_irqs_off));
	atomic64_sub(h->npages, &h->mm->pinned_vm);
	mmdrop(h->mm);
	mockdma_uncharge(h);

	atomic64_sub(h->npages, &mockdma_stats.pages_pinned);
	atomic64_dec(&mockdma_stats.handles);
	atomic64_inc(&mockdma_stats.unpins_total);

	kvfree(h->pages);
	mutex_destroy(&h->lock);
	kfree(h);
}

/**
 * mockdma_handle_put() - drop a reference to a handle
 * @h: the handle
 *
 * Context: process context.  Dropping the last reference releases the pages,
 * which may sleep (folio lock, cond_resched()); this is why the injection
 * hooks, which run in atomic context, hold no reference (mockdma_inject.c).
 */
void mockdma_handle_put(struct mockdma_handle *h)
{
	kref_put(&h->ref, mockdma_handle_release);
}

/**
 * mockdma_handle_retire() - drop the table's reference after removing @h
 * @h:    a handle just removed from its fd's table
 * @mode: how its pages are to be released
 *
 * Stops the engine and disarms every injection of @h first, and marks it
 * retired so neither can start again: afterwards nothing but the holders of
 * a reference can touch the pages, and they only until their put.  The pages
 * are released now if nobody else holds @h, otherwise when the last holder
 * drops it; kref_put()'s ordering makes @mode visible to whoever runs the
 * release.
 *
 * Context: process context; may sleep waiting for the DMA engine's page in
 * progress and for injections being fired on @h.
 */
void mockdma_handle_retire(struct mockdma_handle *h,
			   enum mockdma_release_mode mode)
{
	mutex_lock(&h->lock);
	h->retired = true;
	mockdma_engine_stop_locked(h);
	mockdma_inject_disarm_all(h);
	mutex_unlock(&h->lock);
	mockdma_inject_retired();

	WRITE_ONCE(h->release_mode, mode);
	/* The mutation: the table's reference is lost on the exit path. */
	if (mockdma_mutated(MOCKDMA_MUT_EXIT_LEAK) && (current->flags & PF_EXITING))
		return;
	mockdma_handle_put(h);
}

/**
 * mockdma_handle_next_seq() - take the next sequence number of @h
 * @h: the handle
 *
 * 64 bits, so it does not wrap in practice; a number whose low 32 bits are
 * 0 is skipped, so that neither it nor the 32-bit seq of its stamps is ever
 * 0, which means "none" everywhere in the ABI.
 *
 * Return: the number, never 0.
 */
u64 mockdma_handle_next_seq(struct mockdma_handle *h)
{
	u64 seq;

	if (mockdma_mutated(MOCKDMA_MUT_SEQ32))
		return (u32)atomic64_inc_return(&h->dma_seq);
	do {
		seq = atomic64_inc_return(&h->dma_seq);
	} while (!lower_32_bits(seq));
	return seq;
}
