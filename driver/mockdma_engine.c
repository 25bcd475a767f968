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
 * Lifetime: the engine runs on a handle that is in its fd's table, so the
 * table's reference keeps the pages pinned while it runs; retiring a handle
 * stops its engine first (mockdma_handle_retire()).  There is no other way
 * for a pass to outlive its pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
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
	u32 seq;

	if (READ_ONCE(e->stopping))
		return;
	seq = mockdma_dma_write(h, (u64)e->first << PAGE_SHIFT,
				(u64)e->npages << PAGE_SHIFT, e->set_dirty);
	atomic_set(&e->last_seq, seq);
	atomic64_inc(&e->passes);
	atomic64_inc(&mockdma_stats.engine_passes_total);
	/*
	 * A requeue racing with cancel_delayed_work_sync() in
	 * mockdma_engine_stop() is harmless: cancellation wins over it.
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
 * Return: 0, -ENOENT if @h is being retired, -EBUSY if already running.
 */
int mockdma_engine_start(struct mockdma_handle *h,
			 const struct mockdma_engine *e)
{
	struct mockdma_engine_state *es = &h->engine;
	int ret = 0;

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
	es->npages = e->npages ? e->npages : h->npages - e->first_page;
	es->set_dirty = e->flags & MOCKDMA_ENGINE_SET_DIRTY;
	es->interval = usecs_to_jiffies(e->interval_us);
	es->stopping = false;
	es->running = true;
	atomic64_set(&es->passes, 0);
	atomic_set(&es->last_seq, 0);
	atomic64_inc(&mockdma_stats.engines_running);
	queue_delayed_work(mockdma_engine_wq, &es->work, 0);
out_unlock:
	mutex_unlock(&h->lock);
	return ret;
}

/* Stop the engine of @h and wait for a pass in progress.  No-op if stopped. */
static void mockdma_engine_stop_locked(struct mockdma_handle *h)
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
	e->last_seq = atomic_read(&h->engine.last_seq);
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
 * Context: process context; may sleep waiting for the DMA engine's pass and
 * for injections being fired on @h.
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
	mockdma_handle_put(h);
}

/* Called once per new handle, before it is published in a table. */
void mockdma_engine_handle_init(struct mockdma_handle *h)
{
	mutex_init(&h->lock);
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
