// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: the in-kernel memcpy reference of the DMA bandwidth benchmark
 * (userspace/bench/dma_bench.c), debugfs only, never ABI.
 *
 *   bench_memcpy  write N: copy one page-sized source into each of N pages
 *                 of kernel memory (kmap_local_page() + memcpy(), as the
 *                 fake device reaches a pinned page), timed with
 *                 ktime_get_ns() around the copy loop alone; the pages are
 *                 allocated before the clock starts and freed after it
 *                 stops.  read: "pages N ns T" of the last run.
 *
 * What DMA_WRITE does with a page, minus the stamps: the benchmark's ratio
 * says what writing 16-byte stamps costs against copying whole pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "mockdma_internal.h"

/* At most 64 MiB of 4 KiB pages per run: the guest has 2 GiB. */
#define MOCKDMA_BENCH_MAX_PAGES	16384UL

static DEFINE_MUTEX(mockdma_bench_lock);
static unsigned long mockdma_bench_pages;
static u64 mockdma_bench_ns;

static int mockdma_bench_run(unsigned long npages)
{
	struct page **pages, *src;
	unsigned long i, done = 0;
	u64 t0, t1;
	void *s;
	int ret = 0;

	pages = kvcalloc(npages, sizeof(*pages), GFP_KERNEL);
	src = alloc_page(GFP_KERNEL);
	if (!pages || !src) {
		ret = -ENOMEM;
		goto free_pages;
	}
	for (done = 0; done < npages; done++) {
		pages[done] = alloc_page(GFP_KERNEL);
		if (!pages[done]) {
			ret = -ENOMEM;
			goto free_pages;
		}
	}
	s = kmap_local_page(src);
	memset(s, 0x6d, PAGE_SIZE);
	t0 = ktime_get_ns();
	for (i = 0; i < npages; i++) {
		u8 *d = kmap_local_page(pages[i]);

		memcpy(d, s, PAGE_SIZE);
		kunmap_local(d);
	}
	t1 = ktime_get_ns();
	kunmap_local(s);
	mockdma_bench_pages = npages;
	mockdma_bench_ns = t1 - t0;
free_pages:
	while (done--)
		__free_page(pages[done]);
	if (src)
		__free_page(src);
	kvfree(pages);
	return ret;
}

static ssize_t mockdma_bench_write(struct file *file, const char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	unsigned long npages;
	int ret;

	ret = kstrtoul_from_user(ubuf, count, 0, &npages);
	if (ret)
		return ret;
	if (!npages || npages > MOCKDMA_BENCH_MAX_PAGES)
		return -EINVAL;
	if (mutex_lock_killable(&mockdma_bench_lock))
		return -EINTR;
	ret = mockdma_bench_run(npages);
	mutex_unlock(&mockdma_bench_lock);
	return ret ? ret : count;
}

static int mockdma_bench_show(struct seq_file *m, void *unused)
{
	if (mutex_lock_killable(&mockdma_bench_lock))
		return -EINTR;
	seq_printf(m, "pages %lu ns %llu\n", mockdma_bench_pages,
		   mockdma_bench_ns);
	mutex_unlock(&mockdma_bench_lock);
	return 0;
}

static int mockdma_bench_open(struct inode *inode, struct file *file)
{
	return single_open(file, mockdma_bench_show, NULL);
}

static const struct file_operations mockdma_bench_fops = {
	.owner = THIS_MODULE,
	.open = mockdma_bench_open,
	.read = seq_read,
	.write = mockdma_bench_write,
	.llseek = seq_lseek,
	.release = single_release,
};

void mockdma_bench_debugfs_init(struct dentry *dir)
{
	debugfs_create_file("bench_memcpy", 0600, dir, NULL,
			    &mockdma_bench_fops);
}
