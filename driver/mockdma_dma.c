// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: the fake device's writes into and reads from pinned pages.
 *
 * A real device writes into the pinned pages through their physical
 * addresses behind the kernel's back: no page-table dirty bit is set, no
 * ->page_mkwrite() runs and the page cache is not told.  The fake device does
 * the same through the kernel mapping of the page, so by default a write does
 * not dirty the page.
 *
 * mockdma_dma_stamp() is the primitive: DMA_WRITE and the asynchronous
 * engine (mockdma_engine.c) call it through mockdma_dma_write(), the
 * fault-injection hooks (mockdma_inject.c) directly, from a kprobe or the
 * shrinker.  It needs no lock, only that the pages stay pinned, and does
 * not sleep unless asked to dirty the page.
 *
 * A write or read over a large range (up to max_pin_pages) stops between
 * two pages when told to: on a fatal signal for the ioctls, on STOP for the
 * engine (see the UAPI header).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "mockdma_internal.h"

static_assert(sizeof(struct mockdma_stamp) == MOCKDMA_STAMP_SIZE);

bool mockdma_mutate_skip_write;
u32 mockdma_dma_page_delay_us;

/*
 * Between two pages: stop now?  @stop is the engine's flag, NULL for an
 * ioctl, which a fatal signal stops.  Also the place of the per-page delay
 * (debugfs dma_page_delay_us) that makes a long transfer deterministic.
 */
static bool mockdma_dma_next_page(const bool *stop)
{
	u32 delay = READ_ONCE(mockdma_dma_page_delay_us);

	if (delay)
		fsleep(delay);
	cond_resched();
	if (mockdma_mutated(MOCKDMA_MUT_UNINTERRUPTIBLE))
		return false;
	return stop ? READ_ONCE(*stop) : fatal_signal_pending(current);
}

/**
 * mockdma_dma_stamp() - the device writes stamps into one pinned page
 * @h:         handle; the caller holds a reference (and so the pages)
 * @index:     page index within the pinned range
 * @offset:    byte offset within the page, a multiple of MOCKDMA_STAMP_SIZE
 * @len:       bytes, a multiple of MOCKDMA_STAMP_SIZE, @offset + @len at most
 *             PAGE_SIZE
 * @seq:       the write's sequence number
 * @set_dirty: set_page_dirty_lock() the page afterwards
 *
 * Each 16-byte slot gets {MOCKDMA_STAMP_MAGIC, handle id, @index, the low
 * 32 bits of @seq}.
 *
 * Context: any context if !@set_dirty (kmap_local_page() works in atomic
 * context); process context otherwise, as set_page_dirty_lock() takes the
 * folio lock.
 */
void mockdma_dma_stamp(struct mockdma_handle *h, unsigned long index,
		       unsigned int offset, unsigned int len, u64 seq,
		       bool set_dirty)
{
	const struct mockdma_stamp stamp = {
		.magic = MOCKDMA_STAMP_MAGIC,
		.handle = h->id,
		.page_index = (u32)index,
		.seq = lower_32_bits(seq),
	};
	struct page *page;
	unsigned int pos;
	u8 *kaddr;

	/* Callers validate user input; this only catches driver bugs. */
	if (WARN_ON_ONCE(index >= h->npages || offset > PAGE_SIZE ||
			 len > PAGE_SIZE - offset ||
			 !IS_ALIGNED(offset | len, MOCKDMA_STAMP_SIZE)))
		return;

	if (READ_ONCE(mockdma_mutate_skip_write))
		return;
	page = h->pages[index];
	WRITE_ONCE(h->wrote, true);
	kaddr = kmap_local_page(page);
	for (pos = offset; pos < offset + len; pos += sizeof(stamp))
		memcpy(kaddr + pos, &stamp, sizeof(stamp));
	/*
	 * Make the data written through the kernel alias visible through the
	 * user mapping on architectures with aliasing data caches (a no-op on
	 * x86); memcpy_to_page() does the same.
	 */
	flush_dcache_page(page);
	kunmap_local(kaddr);

	if (set_dirty)
		set_page_dirty_lock(page);
}

/**
 * mockdma_dma_write() - one DMA write of stamps over a byte range
 * @h:         handle pinned for write; the caller holds a reference
 * @offset:    byte offset into the pinned range, validated by the caller
 * @length:    bytes, validated by the caller
 * @set_dirty: dirty every written page (MOCKDMA_DMA_SET_DIRTY)
 * @stop:      the engine's stop flag, or NULL: stop on a fatal signal
 * @seq:       the write's sequence number, taken first
 *
 * Context: process context (sleeps between pages).
 * Return: 0, or -EINTR if stopped before the end of the range (the pages
 * before stay written).
 */
int mockdma_dma_write(struct mockdma_handle *h, u64 offset, u64 length,
		      bool set_dirty, const bool *stop, u64 *seq)
{
	u64 pos = offset, end = offset + length;

	*seq = mockdma_handle_next_seq(h);
	while (pos < end) {
		unsigned int poff = offset_in_page(pos);
		unsigned int len = min_t(u64, end - pos, PAGE_SIZE - poff);

		mockdma_dma_stamp(h, pos >> PAGE_SHIFT, poff, len, *seq,
				  set_dirty);
		pos += len;
		if (pos < end && mockdma_dma_next_page(stop))
			break;
	}

	atomic64_inc(&mockdma_stats.dma_writes_total);
	atomic64_add(pos - offset, &mockdma_stats.dma_write_bytes);
	return pos < end ? -EINTR : 0;
}

/**
 * mockdma_dma_read() - the device reads a byte range into a user buffer
 * @h:      handle; the caller holds a reference
 * @offset: byte offset into the pinned range, validated by the caller
 * @length: bytes, validated by the caller
 * @buf:    user destination
 *
 * Copies page by page from a kmap_local_page() mapping, which may fault in
 * @buf (kmap_local mappings survive sleeping).
 *
 * Context: process context.
 * Return: 0, -EFAULT if @buf could not be written, -EINTR on a fatal
 * signal.
 */
int mockdma_dma_read(struct mockdma_handle *h, u64 offset, u64 length,
		     void __user *buf)
{
	u64 pos = offset, end = offset + length;

	while (pos < end) {
		unsigned int poff = offset_in_page(pos);
		unsigned int len = min_t(u64, end - pos, PAGE_SIZE - poff);
		unsigned long left;
		u8 *kaddr;

		kaddr = kmap_local_page(h->pages[pos >> PAGE_SHIFT]);
		left = copy_to_user(buf, kaddr + poff, len);
		kunmap_local(kaddr);
		if (left)
			return -EFAULT;
		buf += len;
		pos += len;
		atomic64_add(len, &mockdma_stats.dma_read_bytes);
		if (pos < end && mockdma_dma_next_page(NULL))
			return -EINTR;
	}
	return 0;
}
