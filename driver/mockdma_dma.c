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
 * mockdma_dma_stamp() is the primitive; the ioctls use it, and so will the
 * asynchronous engine and the fault-injection hooks (which fire into a given
 * page from a kprobe or shrinker).  It only needs a reference on the handle,
 * no lock, and does not sleep unless asked to dirty the page.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/highmem.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "mockdma_internal.h"

static_assert(sizeof(struct mockdma_stamp) == MOCKDMA_STAMP_SIZE);

bool mockdma_mutate_skip_write;

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
 * Each 16-byte slot gets {MOCKDMA_STAMP_MAGIC, handle id, @index, @seq}.
 *
 * Context: any context if !@set_dirty (kmap_local_page() works in atomic
 * context); process context otherwise, as set_page_dirty_lock() takes the
 * folio lock.
 */
void mockdma_dma_stamp(struct mockdma_handle *h, unsigned long index,
		       unsigned int offset, unsigned int len, u32 seq,
		       bool set_dirty)
{
	const struct mockdma_stamp stamp = {
		.magic = MOCKDMA_STAMP_MAGIC,
		.handle = h->id,
		.page_index = (u32)index,
		.seq = seq,
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
 *
 * Context: process context (reschedules between pages).
 * Return: the write's sequence number, per handle, starting at 1.
 */
u32 mockdma_dma_write(struct mockdma_handle *h, u64 offset, u64 length,
		      bool set_dirty)
{
	u32 seq = (u32)atomic_inc_return(&h->dma_seq);
	u64 pos = offset, end = offset + length;

	while (pos < end) {
		unsigned int poff = offset_in_page(pos);
		unsigned int len = min_t(u64, end - pos, PAGE_SIZE - poff);

		mockdma_dma_stamp(h, pos >> PAGE_SHIFT, poff, len, seq,
				  set_dirty);
		pos += len;
		cond_resched();
	}

	atomic64_inc(&mockdma_stats.dma_writes_total);
	atomic64_add(length, &mockdma_stats.dma_write_bytes);
	return seq;
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
 * Return: 0, or -EFAULT if @buf could not be written.
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
		cond_resched();
	}

	atomic64_add(length, &mockdma_stats.dma_read_bytes);
	return 0;
}
