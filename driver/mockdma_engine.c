// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: the asynchronous DMA engine, a device that keeps writing.
 *
 * An RDMA peer or a GPU writes into pinned memory whenever it likes, not when
 * the CPU asks.  The engine models that: a delayed work item per handle
 * stamps its page set with a new sequence number per pass, through
 * mockdma_dma_write(), until it is stopped.  Work items (rather than a
 * kthread per handle) cost nothing while idle and are cancelled
 * synchronously, which is what lets UNPIN and close stop an engine before the
 * pages it writes are released.
 *
 * Lifetime: the engine holds no reference of its own.  It runs on a handle
 * that is in its fd's table, so the table's reference keeps the pages
 * pinned while it runs, and retiring a handle stops its engine first
 * (mockdma_handle_retire(), mockdma_pin.c), so no pass outlives its pages.
 *
 * A pass over a large set checks the stop flag between two pages
 * (mockdma_dma_write()), so STOP, UNPIN and close wait at most one page,
 * not one pass; the pause between passes is at least one jiffy, so an
 * interval of 0 is not a busy loop of requeues.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/workqueue.h>

#include "mockdma_internal.h"

/*
 * Unbound: a pass is long-running, page-sized work that should not delay
 * other work on the CPU that queued it.
 */
static struct workqueue_struct *mockdma_engine_wq;

static void mockdma_engine_pass(struct work_struct *work)
{
	struct mockdma_engine_state *e =
		container_of(to_delayed_work(work), struct mockdma_engine_state,
			     work);
	struct mockdma_handle *h =
		container_of(e, struct mockdma_handle, engine);
	u64 seq;

	if (READ_ONCE(e->stopping))
		return;
	if (mockdma_dma_write(h, (u64)e->first << PAGE_SHIFT,
			      (u64)e->npages << PAGE_SHIFT, e->set_dirty,
			      &e->stopping, &seq)) {
		/* STOP cut it short: not a completed pass. */
		atomic64_inc(&mockdma_stats.engine_passes_cut_total);
		return;
	}
	atomic64_set(&e->last_seq, seq);
	atomic64_inc(&e->passes);
	atomic64_inc(&mockdma_stats.engine_passes_total);
	/*
	 * A requeue racing with cancel_delayed_work_sync() in
	 * mockdma_engine_stop_locked() is harmless: cancellation wins over it.
	 */
	if (!READ_ONCE(e->stopping))
		queue_delayed_work(mockdma_engine_wq, &e->work, e->interval);
}

/**
 * mockdma_engine_start() - start the engine of a handle
 * @h: handle; the caller holds a reference
 * @e: validated START argument
 *
 * Context: process context, takes @h->lock.
 * Return: 0, -EINVAL if the page set leaves the range, -EPERM if @h is
 * not pinned for write, -ENOENT if @h is being retired, -EBUSY if already
 * running, -EINTR.
 */
int mockdma_engine_start(struct mockdma_handle *h,
			 const struct mockdma_engine *e)
{
	struct mockdma_engine_state *es = &h->engine;
	unsigned long n;
	int ret;

	ret = mockdma_handle_range(h, e->first_page, e->npages, &n);
	if (ret)
		return ret;
	/* Like an IB MR registered without write access. */
	if (!(h->pin_flags & MOCKDMA_PIN_WRITE))
		return -EPERM;
	if (mutex_lock_killable(&h->lock))
		return -EINTR;
	if (h->retired) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (es->running) {
		ret = -EBUSY;
		goto out_unlock;
	}
	es->first = e->first_page;
	es->npages = n;
	es->set_dirty = e->flags & MOCKDMA_ENGINE_SET_DIRTY;
	/* Whole jiffies, at least one: interval 0 must not spin. */
	es->interval = max(usecs_to_jiffies(e->interval_us),
			   mockdma_mutated(MOCKDMA_MUT_ENGINE_BUSY) ? 0UL : 1UL);
	es->stopping = false;
	es->running = true;
	atomic64_set(&es->passes, 0);
	atomic64_set(&es->last_seq, 0);
	atomic64_inc(&mockdma_stats.engines_running);
	queue_delayed_work(mockdma_engine_wq, &es->work, 0);
out_unlock:
	mutex_unlock(&h->lock);
	return ret;
}

/*
 * Stop the engine of @h and wait for a pass in progress, which stops at its
 * next page.  No-op if stopped.  @h->lock held.
 */
void mockdma_engine_stop_locked(struct mockdma_handle *h)
{
	struct mockdma_engine_state *es = &h->engine;

	lockdep_assert_held(&h->lock);
	if (!es->running)
		return;
	WRITE_ONCE(es->stopping, true);
	/* The pass does not take h->lock: waiting for it here is safe. */
	cancel_delayed_work_sync(&es->work);
	es->running = false;
	atomic64_dec(&mockdma_stats.engines_running);
}

/**
 * mockdma_engine_stop() - stop the engine of a handle (STOP, retirement)
 * @h: handle; the caller holds a reference
 *
 * Context: process context, takes @h->lock; may wait for a pass to end.
 */
void mockdma_engine_stop(struct mockdma_handle *h)
{
	mutex_lock(&h->lock);
	mockdma_engine_stop_locked(h);
	mutex_unlock(&h->lock);
}

/* Fill the (out) fields of @e from the engine of @h. */
void mockdma_engine_status(struct mockdma_handle *h, struct mockdma_engine *e)
{
	e->running = READ_ONCE(h->engine.running);
	e->passes = atomic64_read(&h->engine.passes);
	e->last_seq = atomic64_read(&h->engine.last_seq);
}

/* Called once per new handle, before it is published in a table. */
void mockdma_engine_handle_init(struct mockdma_handle *h)
{
	INIT_DELAYED_WORK(&h->engine.work, mockdma_engine_pass);
}

int mockdma_engine_init(void)
{
	mockdma_engine_wq = alloc_workqueue("mockdma_engine", WQ_UNBOUND, 0);
	return mockdma_engine_wq ? 0 : -ENOMEM;
}

void mockdma_engine_exit(void)
{
	/* Every fd is closed, so every engine was stopped. */
	destroy_workqueue(mockdma_engine_wq);
}
