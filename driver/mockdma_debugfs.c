// SPDX-License-Identifier: GPL-2.0
/*
 * mockdma: /sys/kernel/debug/mockdma/, counters for the tests (never ABI).
 *
 *   stats  one "name value" line per global counter; the harness checks
 *          pages_pinned is 0 after every test program
 *   fds    one "pid <tgid> handles <n> pages <n>" line per open fd
 *   inject_fail_register
 *          fault injection: the next kprobe registration fails inside
 *          register_kprobe() (a blacklisted symbol, mockdma_inject.c), to
 *          test the retry
 *   mutate_skip_write
 *          fault injection for the mutation run (make mutate): 1 makes
 *          every device write a no-op
 *   mutate the driver's other mutations (enum mockdma_mutation): writing
 *          a name (ci/mutations) brings that defect back, "none" clears
 *          them; an unknown name is -EINVAL.  Reads the active names.
 *   dma_page_delay_us
 *          sleep this long per page a DMA_WRITE, DMA_READ or engine pass
 *          goes through (0: none), so a long transfer is long for sure
 *   seq_base
 *          the dma_seq a new handle starts at (0: its first write is 1),
 *          to reach the 32-bit boundary of sequence numbers
 *   unpin_irqs_off
 *          UNPIN and release dirty the pages first, then drop the pins
 *          with IRQs off (mockdma_pin.c)
 *   gup_chunk_pages
 *          pages per GUP call and per unpin call of a PIN or release,
 *          1..8192 (default 1024; anything else -EINVAL), read once per
 *          PIN and per release; stats gup_calls_total and
 *          unpin_calls_total count the calls
 *   bench_memcpy
 *          the memcpy reference of the DMA bandwidth benchmark
 *          (mockdma_bench.c)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "mockdma_internal.h"

static struct dentry *mockdma_debugfs_dir;

static int mockdma_dbg_stats_show(struct seq_file *m, void *unused)
{
	static const char * const point_names[MOCKDMA_INJECT_COUNT] = {
		[MOCKDMA_INJECT_WB_START] = "wb_start",
		[MOCKDMA_INJECT_WB_END] = "wb_end",
		[MOCKDMA_INJECT_RECLAIM] = "reclaim",
		[MOCKDMA_INJECT_SHRINKER] = "shrinker",
		[MOCKDMA_INJECT_BIO_SUBMIT] = "bio_submit",
	};
	const struct mockdma_stats *s = &mockdma_stats;
	int i;

	seq_printf(m, "pages_pinned %lld\n", atomic64_read(&s->pages_pinned));
	seq_printf(m, "handles %lld\n", atomic64_read(&s->handles));
	seq_printf(m, "pins_total %lld\n", atomic64_read(&s->pins_total));
	seq_printf(m, "unpins_total %lld\n", atomic64_read(&s->unpins_total));
	seq_printf(m, "pin_errors_total %lld\n",
		   atomic64_read(&s->pin_errors_total));
	seq_printf(m, "dma_write_bytes %lld\n",
		   atomic64_read(&s->dma_write_bytes));
	seq_printf(m, "dma_read_bytes %lld\n",
		   atomic64_read(&s->dma_read_bytes));
	seq_printf(m, "dma_writes_total %lld\n",
		   atomic64_read(&s->dma_writes_total));
	seq_printf(m, "engines_running %lld\n",
		   atomic64_read(&s->engines_running));
	seq_printf(m, "engine_passes_total %lld\n",
		   atomic64_read(&s->engine_passes_total));
	seq_printf(m, "inject_armed %lld\n", atomic64_read(&s->inject_armed));
	seq_printf(m, "inject_probes_live %u\n", mockdma_inject_probes_live());
	seq_printf(m, "inject_probes_missed %lu\n",
		   mockdma_inject_probes_missed());
	seq_printf(m, "inject_arms_total %lld\n",
		   atomic64_read(&s->inject_arms_total));
	seq_printf(m, "inject_fired_total %lld\n",
		   atomic64_read(&s->inject_fired_total));
	for (i = 0; i < MOCKDMA_INJECT_COUNT; i++)
		seq_printf(m, "inject_fired_%s %lld\n", point_names[i],
			   atomic64_read(&s->inject_fired[i]));
	seq_printf(m, "inject_lock_busy %lld\n",
		   atomic64_read(&s->inject_lock_busy));
	seq_printf(m, "dma_interrupted_total %lld\n",
		   atomic64_read(&s->dma_interrupted_total));
	seq_printf(m, "engine_passes_cut_total %lld\n",
		   atomic64_read(&s->engine_passes_cut_total));
	seq_printf(m, "unpin_irqs_off_pages %lld\n",
		   atomic64_read(&s->unpin_irqs_off_pages));
	seq_printf(m, "gup_calls_total %lld\n",
		   atomic64_read(&s->gup_calls_total));
	seq_printf(m, "unpin_calls_total %lld\n",
		   atomic64_read(&s->unpin_calls_total));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mockdma_dbg_stats);

static int mockdma_dbg_fds_show(struct seq_file *m, void *unused)
{
	struct mockdma_file *mf;

	/*
	 * The counts are read without the fd's own lock, so that a reader
	 * never waits behind an ioctl and no lock nests in another.
	 */
	mutex_lock(&mockdma_files_lock);
	list_for_each_entry(mf, &mockdma_files, node)
		seq_printf(m, "pid %d handles %lu pages %lu\n", mf->tgid,
			   READ_ONCE(mf->nhandles), READ_ONCE(mf->npages));
	mutex_unlock(&mockdma_files_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mockdma_dbg_fds);

unsigned long mockdma_mutations;

static const char * const mockdma_mutation_names[MOCKDMA_MUT_COUNT] = {
	[MOCKDMA_MUT_UNINTERRUPTIBLE] = "dma-uninterruptible",
	[MOCKDMA_MUT_ENGINE_BUSY] = "engine-busy-requeue",
	[MOCKDMA_MUT_MEMLOCK_PER_MM] = "memlock-per-mm",
	[MOCKDMA_MUT_NO_CAN_DO_MLOCK] = "no-can-do-mlock",
	[MOCKDMA_MUT_SEQ32] = "seq32",
	[MOCKDMA_MUT_ENGINE_LAX] = "engine-lax-args",
	[MOCKDMA_MUT_INFO_STALE] = "info-stale",
	[MOCKDMA_MUT_IRQS_OFF_NO_DIRTY] = "irqs-off-no-dirty",
	[MOCKDMA_MUT_STRAY_ERRNO] = "stray-errno",
	[MOCKDMA_MUT_EXIT_LEAK] = "exit-leaks-handle",
	[MOCKDMA_MUT_GUP_CHUNK_IGNORED] = "gup-chunk-ignored",
};

static int mockdma_dbg_mutate_show(struct seq_file *m, void *unused)
{
	unsigned long active = READ_ONCE(mockdma_mutations);
	int i;

	for (i = 0; i < MOCKDMA_MUT_COUNT; i++)
		if (active & BIT(i))
			seq_printf(m, "%s\n", mockdma_mutation_names[i]);
	return 0;
}

static int mockdma_dbg_mutate_open(struct inode *inode, struct file *file)
{
	return single_open(file, mockdma_dbg_mutate_show, NULL);
}

static ssize_t mockdma_dbg_mutate_write(struct file *file,
					const char __user *ubuf, size_t len,
					loff_t *ppos)
{
	char name[32];
	int i;

	if (len >= sizeof(name))
		return -EINVAL;
	if (copy_from_user(name, ubuf, len))
		return -EFAULT;
	name[len] = '\0';
	strim(name);
	if (!strcmp(name, "none")) {
		WRITE_ONCE(mockdma_mutations, 0);
		return len;
	}
	i = match_string(mockdma_mutation_names, MOCKDMA_MUT_COUNT, name);
	if (i < 0)
		return i;
	WRITE_ONCE(mockdma_mutations, mockdma_mutations | BIT(i));
	return len;
}

static const struct file_operations mockdma_dbg_mutate_fops = {
	.owner = THIS_MODULE,
	.open = mockdma_dbg_mutate_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = mockdma_dbg_mutate_write,
};

static int mockdma_dbg_gup_chunk_get(void *data, u64 *val)
{
	*val = READ_ONCE(mockdma_gup_chunk);
	return 0;
}

static int mockdma_dbg_gup_chunk_set(void *data, u64 val)
{
	if (!val || val > MOCKDMA_GUP_CHUNK_MAX)
		return -EINVAL;
	WRITE_ONCE(mockdma_gup_chunk, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(mockdma_dbg_gup_chunk_fops, mockdma_dbg_gup_chunk_get,
			 mockdma_dbg_gup_chunk_set, "%llu\n");

/* debugfs failures are not fatal: the device works without the counters. */
void mockdma_debugfs_init(void)
{
	mockdma_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stats", 0400, mockdma_debugfs_dir, NULL,
			    &mockdma_dbg_stats_fops);
	debugfs_create_file("fds", 0400, mockdma_debugfs_dir, NULL,
			    &mockdma_dbg_fds_fops);
	debugfs_create_bool("mutate_skip_write", 0600, mockdma_debugfs_dir,
			    &mockdma_mutate_skip_write);
	debugfs_create_bool("inject_fail_register", 0600, mockdma_debugfs_dir,
			    &mockdma_inject_fail_register);
	debugfs_create_file("mutate", 0600, mockdma_debugfs_dir, NULL,
			    &mockdma_dbg_mutate_fops);
	debugfs_create_u32("dma_page_delay_us", 0600, mockdma_debugfs_dir,
			   &mockdma_dma_page_delay_us);
	debugfs_create_u64("seq_base", 0600, mockdma_debugfs_dir,
			   &mockdma_seq_base);
	debugfs_create_bool("unpin_irqs_off", 0600, mockdma_debugfs_dir,
			    &mockdma_unpin_irqs_off);
	debugfs_create_file_unsafe("gup_chunk_pages", 0600, mockdma_debugfs_dir,
				   NULL, &mockdma_dbg_gup_chunk_fops);
	mockdma_bench_debugfs_init(mockdma_debugfs_dir);
}

void mockdma_debugfs_exit(void)
{
	debugfs_remove_recursive(mockdma_debugfs_dir);
}
